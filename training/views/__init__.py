"""HTML pages of the training side, one module per area; the routes are in training/urls.py."""
