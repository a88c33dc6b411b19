"""The read API's URLs, under /api/ (config/urls.py): /api/v1/... (api/v1.py).

The API authenticates by API key only, never by the session: its views are exempt from
CSRF (ninja marks them so) and from LoginRequiredMiddleware (marked here). Every answer is
JSON: any other path under /api/ (and ninja's root, /api/v1/) is a JSON 404, any method
but GET a JSON 405 (the description and docs page take HEAD too). The operations' answers
carry `Cache-Control: no-store`: they are members' data.
"""

import functools

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import URLPattern, path, re_path
from django.views.decorators.csrf import csrf_exempt

from api.v1 import api

NOT_FOUND = {"error": "not_found", "detail": "There is nothing at this address."}
# ninja's own views (not operations): the description and the docs page.
_PAGES = {"openapi-json", "openapi-view"}


def _not_allowed(allowed: str) -> JsonResponse:
    response = JsonResponse(
        {"error": "method_not_allowed", "detail": f"This address answers {allowed} only."},
        status=405,
    )
    response["Allow"] = allowed
    return response


def _guarded(view, *, page: bool):
    """`view`, answering a JSON 405 for a method it does not take; an operation's
    answers are not to be stored by any cache."""
    allowed = ("GET", "HEAD") if page else ("GET",)

    @functools.wraps(view)  # keeps ninja's csrf_exempt mark (or its absence)
    def guarded(request, *args, **kwargs):
        if request.method not in allowed:
            return _not_allowed(", ".join(allowed))
        response = view(request, *args, **kwargs)
        if not page:
            response["Cache-Control"] = "no-store"
        return response

    return login_not_required(guarded)


def _root(request, **kwargs):
    """ninja's root, /api/v1/: named so that ninja can find its own path; nothing here."""
    return JsonResponse(NOT_FOUND, status=404)


_patterns, _app_name, _namespace = api.urls
for _pattern in _patterns:
    if not isinstance(_pattern, URLPattern):
        continue
    if _pattern.name == "api-root":
        _pattern.callback = login_not_required(_root)
    else:
        _pattern.callback = _guarded(_pattern.callback, page=_pattern.name in _PAGES)


@csrf_exempt
@login_not_required
def not_found(request, rest=""):
    return JsonResponse(NOT_FOUND, status=404)


urlpatterns = [
    path("v1/", (_patterns, _app_name, _namespace)),
    re_path(r"^(?P<rest>.*)$", not_found, name="api_not_found"),
]
