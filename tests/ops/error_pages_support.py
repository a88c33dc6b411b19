"""The site's URLs and one page that fails, for the tests of what an error page shows."""

from django.contrib.auth.decorators import login_not_required
from django.urls import include, path


@login_not_required
def fails(request):
    raise RuntimeError("this page fails on purpose")


urlpatterns = [
    path("fails/", fails),
    path("", include("config.urls")),
]
