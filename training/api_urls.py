"""API of the training side."""

urlpatterns: list = []
