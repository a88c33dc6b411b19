"""Request ids and structured logs.

Every request gets an id (django-log-request-id keeps it for the duration of the
request); `RequestIdFilter` puts it on every log record, and in production the records
are written one JSON object per line (python-json-logger) with whatever context the
caller passed in `extra=`. Behind a load balancer that already assigns ids, set
LOG_REQUEST_ID_HEADER (e.g. HTTP_X_REQUEST_ID) and the incoming id is used, if it
looks like an id: anything else is replaced, so a client cannot write into our logs.
"""

import logging
import re
import time
from typing import Any

from django.conf import settings
from django.utils.functional import empty
from log_request_id.filters import RequestIDFilter as _LibraryFilter
from log_request_id.middleware import RequestIDMiddleware as _LibraryMiddleware

_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


access_logger = logging.getLogger("config.access")


class RequestIdMiddleware(_LibraryMiddleware):
    """The library's middleware, refusing incoming ids that are not plain tokens, and
    writing the access log line (ACCESS_LOG).

    The line names the URL pattern, not the path: paths carry keys (email confirmation,
    signed links) that must not reach a log, and patterns group well.
    """

    def __call__(self, request):
        started = time.monotonic()
        response = super().__call__(request)
        if settings.ACCESS_LOG:
            match = getattr(request, "resolver_match", None)
            route = route_of(request)
            view = match.view_name if match is not None and match.view_name else route
            member = _member_if_loaded(request)
            access_logger.info(
                "%s %s %s",
                request.method,
                view,
                response.status_code,
                extra={
                    "method": request.method,
                    "view": view,
                    "route": route,
                    "status": response.status_code,
                    "member": member,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
        return response

    def _get_request_id(self, request):
        request_id = super()._get_request_id(request)
        if not isinstance(request_id, str) or not _ID.fullmatch(request_id):
            return self._generate_id()
        return request_id


class RequestIdFilter(_LibraryFilter):
    """Adds `request_id` ("none" outside a request, e.g. in the task worker)."""


class PlainFormatter(logging.Formatter):
    """Human-readable lines for development, with the request id and any context."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if context:
            line += " " + " ".join(f"{key}={value}" for key, value in sorted(context.items()))
        return line


def route_of(request) -> str:
    """The URL pattern a request matched, or "(no route)": safe to log, unlike the path."""
    match = getattr(request, "resolver_match", None)
    return f"/{match.route}" if match is not None and match.route else "(no route)"


def _member_if_loaded(request):
    """The member's id if the request already loaded them; never a query (the database
    may be the very thing that failed)."""
    user = getattr(request, "user", None)
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is None or wrapped is empty:
        return None
    return wrapped.pk if getattr(wrapped, "is_authenticated", False) else None


class RequestPathFilter(logging.Filter):
    """Django logs the path of every 4xx/5xx ("Not Found: /confirm-email/<key>/") and
    the request itself: both may carry keys. They are replaced by the URL pattern."""

    def filter(self, record: logging.LogRecord) -> bool:
        request: Any = getattr(record, "request", None)
        path = getattr(request, "path", None)
        if not isinstance(path, str):
            return True
        route = route_of(request)
        if isinstance(record.args, tuple) and path in record.args:
            record.args = tuple(route if arg == path else arg for arg in record.args)
        record.request = f"{request.method} {route}"
        return True
