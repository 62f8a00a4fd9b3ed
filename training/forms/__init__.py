"""Input of the training side's pages (and, for runs, of the API), one module per area."""
