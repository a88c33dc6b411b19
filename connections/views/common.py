"""What the connections views share: JSON errors, error pages, a request's fields, the
member's own account."""

import json
import math

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from connections import pipedream, selectors, services

# A token request is a slug and a number; anything much bigger is not one.
MAX_JSON_BODY = 16 * 1024


def json_error(message: str, status: int, **headers) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def status_for(exc: services.ConnectError) -> int:
    if isinstance(exc, services.TooManyAttempts):
        return 429
    if isinstance(exc, services.UpstreamError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, pipedream.RateLimited | pipedream.Unavailable):
            return 503
        return 502
    if isinstance(exc, services.ForeignAccount | services.EmailNotVerified):
        return 403
    if isinstance(exc, services.LinkExpired):
        return 410
    if isinstance(exc, services.AccountNotFound):
        return 404
    return 400


def retry_after(exc: services.ConnectError) -> str:
    """Retry-After for a 429 or 503: the limit's or the upstream's wait, else 30 s."""
    seconds = getattr(exc, "retry_after", None) or getattr(
        getattr(exc, "cause", None), "retry_after", None
    )
    return str(max(1, math.ceil(seconds or 30)))


def connect_error_json(exc: services.ConnectError) -> JsonResponse:
    status = status_for(exc)
    if status in (429, 503):
        return json_error(str(exc), status, Retry_After=retry_after(exc))
    return json_error(str(exc), status)


def upstream_hung(exc: services.ConnectError) -> bool:
    """Pipedream did not answer within the page's budget (or was not asked, to spare it)."""
    cause = getattr(exc, "cause", None)
    return isinstance(cause, pipedream.Unavailable) and cause.retry_after is not None


def error_page(request, exc: services.ConnectError, title: str):
    """A 429 or 503 page with Retry-After, for a browser that came to a page."""
    status = status_for(exc) if isinstance(exc, services.TooManyAttempts) else 503
    response = problem_page(request, status=status, title=title, message=str(exc))
    response["Retry-After"] = retry_after(exc)
    return response


def request_data(request):
    """The POST fields, from a form or a JSON object. Raises ValueError with a sentence."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_JSON_BODY:
        raise ValueError(_("The request is too large: send only the fields app and account."))
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
            # Strings that cannot be encoded (lone surrogates) are not text to act on.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError):  # also too deeply nested; UnicodeError too
            raise ValueError(_("The request body is not valid JSON.")) from None
        if not isinstance(data, dict):
            raise ValueError(_('The request body must be a JSON object such as {"app": "github"}.'))
        # Only strings and numbers make sense as field values.
        return {
            k: v for k, v in data.items() if isinstance(v, (str, int)) and not isinstance(v, bool)
        }
    return request.POST


def member_account(member, raw):
    """The member's own account numbered `raw`, or 404 (also for someone else's)."""
    try:
        return selectors.account_for_member(member=member, account_id=int(raw))
    except (ObjectDoesNotExist, TypeError, ValueError, OverflowError):
        raise Http404("No such account.") from None


def problem_page(request, *, status: int, title: str, message: str, **extra):
    return render(
        request,
        "connections/problem.html",
        {"title": title, "message": message, **extra},
        status=status,
    )
