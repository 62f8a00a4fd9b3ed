"""HTML pages of the training side (runs)."""

app_name = "training"
urlpatterns: list = []
