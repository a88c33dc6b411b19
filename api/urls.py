"""The read API's URLs (filled in by api/)."""

urlpatterns: list = []
