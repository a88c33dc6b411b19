"""The read API's URLs, under /api/ (config/urls.py): /api/v1/... (api/v1.py).

The API authenticates by API key only, never by the session: its views are exempt from
CSRF (ninja marks them so) and from LoginRequiredMiddleware (marked here). Any other path
under /api/ answers a JSON 404.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from api.v1 import api

_patterns, _app_name, _namespace = api.urls
for _pattern in _patterns:
    if callable(_pattern.callback):
        login_not_required(_pattern.callback)


@csrf_exempt
@login_not_required
def not_found(request, rest=""):
    return JsonResponse(
        {"error": "not_found", "detail": "There is nothing at this address."}, status=404
    )


urlpatterns = [
    path("v1/", (_patterns, _app_name, _namespace)),
    re_path(r"^(?P<rest>.*)$", not_found, name="api_not_found"),
]
