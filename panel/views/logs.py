"""Routes of this page are added here as it is built (panel/urls.py appends `urlpatterns`)."""
urlpatterns = []
