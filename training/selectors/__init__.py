"""Every read of the training side that needs access rules, one module per area: runs,
generation, evaluation, lineage."""
