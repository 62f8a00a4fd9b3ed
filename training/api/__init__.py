"""REST API of the training side, one module per area; the routes are in urls.py."""
