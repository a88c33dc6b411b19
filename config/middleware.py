"""A database connection that drops mid-request never shows a member a 500.

PostgreSQL restarts, a proxy cuts an idle connection, a failover moves the primary: the
request in flight gets OperationalError (or InterfaceError) from its connection. Then:

- the broken connection is closed, so the next query opens a fresh one;
- a safe request (GET, HEAD, OPTIONS) is run once more, transparently: it wrote nothing;
- anything else answers 503 with Retry-After and a sentence to try again (JSON for API
  callers and webhook senders, who retry; a short page for browsers). The services write
  inside explicit transactions, so a request cut short left nothing half-written.

Another database error counts as a lost connection only when it says the connection
was closed (SQLite reports a connection closed under it with ProgrammingError) or the
connection no longer answers a trivial query; any other error stays what it is, a bug,
and a 500.

The middleware goes at the top of MIDDLEWARE (right after the request id), so the
retry covers the session and authentication middleware too. Errors raised in the view reach `process_exception`;
those raised by another middleware (loading the session, saving it) are seen through
Django's got_request_exception signal, which fires before the 500 is built.

`connection_lost()` and `connection_reset()` live in core/database.py; tasks use them too (claims/tasks.py,
connections/tasks.py): a task whose connection dropped resets it and is queued again
instead of taking the worker down with it.
"""

import html
import logging
import sys

import requests
from django.conf import settings
from django.core.signals import got_request_exception
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _

from config.observability import route_of
from core.client import UpstreamError, upstream_budget
from core.database import NO_RETRY, connection_lost, connection_reset

logger = logging.getLogger("config.database")
upstream_logger = logging.getLogger("config.upstream")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_AFTER = 5  # seconds, in the 503's Retry-After
# The sentences are English here (gettext_noop) and said in the member's language.
MESSAGE = gettext_noop(
    "The site lost its connection to the database for a moment. "
    "Nothing was saved; please try again in a few seconds."
)
# Paths whose callers are programs (webhook senders, the Connect token script): JSON.
JSON_PATHS = (
    "/connect/webhook/",
    "/connect/token/",
    "/connect/callback/",
    "/claims/trigger-webhook/",
    "/api/",
)
_MARK = "_database_connection_lost"


def _wants_json(request) -> bool:
    if request.path.startswith(JSON_PATHS) or request.content_type == "application/json":
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _same_page(request) -> str:
    """The request's own path as a link that cannot leave the site ("//evil.example/"
    is a path here but another host in an href)."""
    path = request.get_full_path()
    if path.startswith(("//", "/\\")):
        return "/" + path.lstrip("/\\")
    return path


def unavailable_response(
    request, message: str = MESSAGE, retry_after: int = RETRY_AFTER
) -> HttpResponse:
    """503, Retry-After, a sentence; no template and no database needed to build it.

    `message` is one of the English sentences above; it is said in the member's language."""
    message = _(message)
    if _wants_json(request):
        response: HttpResponse = JsonResponse({"error": message}, status=503)
    elif request.headers.get("HX-Request") == "true":
        # htmx leaves the page as it is on a 5xx (a polling element keeps polling);
        # the fragment is for a page that chooses to show it.
        response = HttpResponse(
            f'<p class="message message-error" role="alert">{html.escape(message)}</p>',
            status=503,
        )
        response["HX-Reswap"] = "none"
    else:
        title, again = _("Try again in a moment"), _("Try again")
        response = HttpResponse(
            f"<!doctype html><html lang={html.escape(get_language() or 'en')}><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(message)}</p>"
            f'<p><a href="{html.escape(_same_page(request))}">{html.escape(again)}</a></p></html>',
            status=503,
        )
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseConnectionMiddleware:
    """Retry a safe request once on a fresh connection; otherwise a friendly 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not getattr(request, _MARK, None):
            return response
        connection_reset()
        if request.method in SAFE_METHODS and not getattr(request, NO_RETRY, False):
            logger.warning(
                "Database connection lost during %s %s: retrying once on a new connection",
                request.method,
                route_of(request),
            )
            setattr(request, _MARK, None)
            response = self.get_response(request)
            if not getattr(request, _MARK, None):
                return response
            connection_reset()
        logger.warning(
            "Database connection lost during %s %s: answered 503",
            request.method,
            route_of(request),
        )
        return unavailable_response(request)

    def process_exception(self, request, exception):
        if not connection_lost(exception):
            return None
        setattr(request, _MARK, exception)
        # The middleware after this one may still use the database (saving the session):
        # on a fresh connection, not the broken one. The answer is replaced in __call__.
        connection_reset()
        return HttpResponse(status=503)


@receiver(got_request_exception, dispatch_uid="config.middleware.connection_lost")
def _mark_connection_lost(sender, request=None, **kwargs):
    """An exception outside the view (another middleware): mark the request if it was a
    lost connection, so DatabaseConnectionMiddleware answers for it instead of a 500."""
    exc = sys.exc_info()[1]
    if request is not None and exc is not None and connection_lost(exc):
        setattr(request, _MARK, exc)
        connection_reset()


UPSTREAM_MESSAGE = gettext_noop(
    "A service this site relies on is not answering just now. Nothing was lost; "
    "please try again in a minute."
)
UPSTREAM_RETRY_AFTER = 30  # seconds


class UpstreamBudgetMiddleware:
    """Every request's calls to Pipedream and BitBadges share WEB_UPSTREAM_BUDGET seconds.

    Timeouts and retries are set for task workers (up to 43 s against a hanging Pipedream),
    longer than gunicorn's 30 s worker timeout: inside a web request each try gets at most
    what is left of the budget and no retry starts once it is spent (core/client.py). Views
    that call upstream handle its errors themselves; one that escapes them, an upstream
    that is down, slow or asks us to slow down, answers 503 with Retry-After here instead
    of a 500. The Connect views add a per-process cap and a breaker (core.client.web_budget).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with upstream_budget(settings.WEB_UPSTREAM_BUDGET):
            return self.get_response(request)

    def process_exception(self, request, exception):
        transient = isinstance(exception, UpstreamError) and exception.transient
        if not (transient or isinstance(exception, requests.RequestException)):
            return None
        upstream_logger.warning(
            "Upstream unavailable during %s %s: answered 503 (%s)",
            request.method,
            route_of(request),
            type(exception).__name__,
        )
        wait = getattr(exception, "retry_after", None) or UPSTREAM_RETRY_AFTER
        return unavailable_response(request, UPSTREAM_MESSAGE, max(1, min(int(wait), 3600)))
