"""Every write of the training side, one module per area: runs, generation, scoring, sweeps."""
