"""Member pages served from a cache that cannot be stale: the home page, /accounts/,
/claims/ and a claim's page /c/<slug>/ (config/views.py, connections/views/page.py,
claims/views.py, claims/landing.py).

A page is rendered once and kept in a slot of its own (the page, the member, their
session, the address), with the version it was rendered from: a digest of everything it
can show. It is served only while the version computed for the request is the same:

- the rows it reads, digested by the database in ONE query per request
  (`fingerprint`): every column of the member's accounts, completions, email addresses,
  trigger deployments (and the site's own), latest connection attempt, and of every
  claim, requirement and app (`SOURCES`). A row written by any code path (a save, a
  queryset update, the engine's ledger, an admin edit, a sync, raw SQL) changes the
  digest, so the next request renders again: invalidation by rule, not by a timeout;
- the member (every field of their row, their session), the path and query string, the
  language and time zone, the brand, the settings the layout reads, and the code and
  templates the process runs (`code_digest`);
- the per-request state the page's view computes from what the render kept (`state`,
  e.g. whether a re-read of the accounts from Pipedream is under way).

What depends on the clock (a claim's window opening or closing, "next try in 4
minutes", a retry falling due, a notice that lasts a day) is the entry's `until`: the
first moment its content would read differently, computed from the rows when it is
rendered; from then on it is rendered again. A new render writes over the slot, so the
cache holds one entry per member session, page and address (for a day at most).

Nothing of another request is served: the CSRF token and the CSP nonce are rendered as
markers (random for each render, so no text on the page can carry one) and filled in
for each response (`get_token`: a fresh mask of this session's
secret; this request's nonce), a request with flash messages to show is rendered
directly, and every slot holds the member's id and session key (and every version the
member's row): two members (or two sessions) never share an entry. The digest and the render run in one REPEATABLE READ
snapshot on PostgreSQL (`_snapshot`), so what is stored is what the digest describes.

On unless settings.PAGE_CACHE is False or the cache is the dummy one. With the
default local-memory cache each process keeps its own entries (still never stale: the
digest comes from the database); Redis shares them.
"""

import contextlib
import datetime
import functools
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Model
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.csp import get_nonce
from django.middleware.csrf import get_token
from django.test.signals import setting_changed
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

# Markers rendered in place of the CSRF token and the CSP nonce and filled in per
# response: random for each render and kept with its page, so no text the page shows
# (a name, an app's logo URL from Pipedream's catalogue) can carry one and be filled in.
MARK_PREFIX = "pgcache-mark-"


def _marks() -> dict[str, str]:
    random = secrets.token_hex(16)
    return {
        "csrf_token": f"{MARK_PREFIX}csrf-{random}",
        "csp_nonce": f"{MARK_PREFIX}nonce-{random}",
    }


# An entry nobody asked for in a day is dropped (space, not correctness: a changed row
# or the clock makes an entry unused long before).
ENTRY_SECONDS = 24 * 3600
KEY_PREFIX = "page:v2"


@dataclass(frozen=True)
class Source:
    """Rows a member page may show: `model` ("app_label.Model"), filtered by `where` (SQL
    on the alias t; each %s is the member's id), or only the newest by `latest`."""

    model: str
    where: str = ""
    latest: str = ""
    windows: str = ""  # a JSON field of [[start ms, end ms], ...] (read from BitBadges)


# Everything the four pages (and the layout) read from the database besides the session
# and the member's own row (tests/perf/test_page_queries.py checks that each table the
# pages query is here).
SOURCES = (
    Source("connections.ConnectedAccount", "t.member_id = %s"),
    Source("claims.Completion", "t.member_id = %s"),
    Source("account.EmailAddress", "t.user_id = %s"),
    Source("claims.TriggerDeployment", "(t.member_id = %s OR t.member_id IS NULL)"),
    Source("connections.ConnectSession", "t.member_id = %s", latest="created_at"),
    Source("claims.Claim", windows="life_windows"),
    Source("claims.Requirement"),
    Source("connections.App"),
)


def enabled() -> bool:
    configured = getattr(settings, "PAGE_CACHE", None)
    if configured is not None:
        return bool(configured)
    return not settings.CACHES["default"]["BACKEND"].endswith("DummyCache")


# --- the database's digest ------------------------------------------------------------


def _subquery(source: Source, vendor: str) -> tuple[str, int]:
    """One scalar subquery digesting the source's rows. SQL built from the models' own
    table and column names and SOURCES' constant filters; the member's id is a
    parameter."""
    model = apps.get_model(source.model)
    qn = connection.ops.quote_name
    table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
    where = f" WHERE {source.where}" if source.where else ""
    order = f"t.{pk}"
    if source.latest:
        order = f"t.{qn(model._meta.get_field(source.latest).column)} DESC, t.{pk} DESC LIMIT 1"
    if vendor == "postgresql":
        # The whole row as text: every column, whatever code wrote it.
        row, digest = "t::text", "md5(coalesce(string_agg(x.r, ',' ORDER BY x.pk), ''))"
    else:  # SQLite: each column quoted, in order
        row = " || '|' || ".join(f"quote(t.{qn(f.column)})" for f in model._meta.concrete_fields)
        digest = "group_concat(x.r, ',')"
    rows = f"SELECT {row} AS r, t.{pk} AS pk FROM {table} t{where} ORDER BY {order}"  # noqa: S608
    sql = f"(SELECT {digest} FROM ({rows}) x)"  # noqa: S608
    return sql, source.where.count("%s")


@functools.cache
def _statement(vendor: str) -> tuple[str, int]:
    parts = [_subquery(source, vendor) for source in SOURCES]
    return "SELECT " + ", ".join(sql for sql, _ in parts), sum(n for _, n in parts)


def fingerprint(member_id: int) -> str:
    """A digest of every row of `SOURCES` the member's pages may show: one query."""
    sql, params = _statement(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [member_id] * params)
        row = cursor.fetchone()
    return hashlib.sha256(repr(row).encode()).hexdigest()


def next_moment(member_id: int, now: datetime.datetime) -> datetime.datetime | None:
    """The first moment after `now` named by the rows the pages show (a claim's start or
    end or window edge, a retry or re-check falling due...): past it, a page may read
    differently. Read when a page is rendered (two queries), never when it is served."""
    qn = connection.ops.quote_name
    parts, params, windows = [], [], []
    for source in SOURCES:
        if source.latest:
            continue  # the view says what the newest row's moments change
        model = apps.get_model(source.model)
        table = qn(model._meta.db_table)
        where = f"({source.where}) AND " if source.where else ""
        for f in model._meta.concrete_fields:
            if f.get_internal_type() == "DateTimeField":
                parts.append(
                    f"SELECT min(t.{qn(f.column)}) FROM {table} t WHERE {where}"  # noqa: S608
                    f"t.{qn(f.column)} > %s"
                )
                params += [member_id] * source.where.count("%s") + [now]
        if source.windows:
            column = qn(model._meta.get_field(source.windows).column)
            windows.append(f"SELECT t.{column} FROM {table} t")  # noqa: S608
    moments = []
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        moments += [value for (value,) in cursor.fetchall()]
        for sql in windows:
            cursor.execute(sql)
            for (value,) in cursor.fetchall():
                moments += _window_edges(value)
    moments = [_aware(moment) for moment in moments if moment is not None]
    return until_of(moments, now)


def _window_edges(value: Any) -> list[datetime.datetime]:
    """The moments a claim's BitBadges windows open and close (past the last millisecond
    of each); an edge out of datetime's range (BitBadges' "never") is none."""
    try:
        pairs = json.loads(value) if isinstance(value, str | bytes) else value or []
        ms_edges = [ms for start, end in pairs for ms in (int(start), int(end) + 1)]
    except (TypeError, ValueError):
        return []
    edges = []
    for ms in ms_edges:
        with contextlib.suppress(OverflowError, OSError, ValueError):
            edges.append(datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC))
    return edges


def _aware(moment: Any) -> datetime.datetime | None:
    if isinstance(moment, str):  # SQLite's text
        moment = parse_datetime(moment)
    if not isinstance(moment, datetime.datetime):
        return None
    aware: datetime.datetime = moment
    return timezone.make_aware(aware, datetime.UTC) if timezone.is_naive(aware) else aware


# --- the rest of the key ----------------------------------------------------------------

# What a member page's render runs and reads: the apps it calls, templates, translations.
_CODE_DIRS = (
    "config", "core", "claims", "connections", "users", "branding", "templates", "locale",
)  # fmt: skip


@functools.cache
def code_digest() -> str:
    """The code and templates this process renders with (read once per process): a
    deploy renders again, even with the cache the old code filled."""
    digest = hashlib.sha256()
    base = Path(settings.BASE_DIR)
    for top in _CODE_DIRS:
        for root, dirs, files in os.walk(base / top):
            dirs[:] = sorted(d for d in dirs if d not in ("tests", "__pycache__", "migrations"))
            for name in sorted(files):
                if name.endswith((".py", ".html", ".mo")):
                    path = Path(root) / name
                    digest.update(str(path.relative_to(base)).encode())
                    digest.update(path.read_bytes())
    # The static files' hashed names ({% static %}), when collected with a manifest.
    manifest = Path(str(getattr(settings, "STATIC_ROOT", "") or "")) / "staticfiles.json"
    if manifest.is_file():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()


@functools.cache
def settings_digest() -> str:
    """Every setting of a plain type (the flags and names pages read): another
    configuration on the same cache renders again. Forgotten when a test changes one.
    The same in every process of one configuration (sets in order; the databases, whose
    test names hold the process id, left out), so web workers share their entries."""
    values = sorted(
        (name, _canonical(getattr(settings, name)))
        for name in dir(settings)
        if name.isupper() and name not in _PER_PROCESS_SETTINGS
    )
    return hashlib.sha256(repr(values).encode()).hexdigest()


_PER_PROCESS_SETTINGS = {"DATABASES"}


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return sorted((repr(key), _canonical(item)) for key, item in value.items())
    if isinstance(value, set | frozenset):
        return sorted(repr(_canonical(item)) for item in value)
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    return type(value).__qualname__  # an object: its kind only (its repr may name an address)


@receiver(setting_changed)
def _setting_changed(**kwargs: Any) -> None:
    settings_digest.cache_clear()


def plain(value: Any) -> Any:
    """Model instances as the values of all their columns, recursively in lists."""
    if isinstance(value, Model):
        return tuple(getattr(value, f.attname) for f in value._meta.concrete_fields)
    if isinstance(value, list | tuple):
        return tuple(plain(item) for item in value)
    return value


def _slot(request: HttpRequest, page: str) -> str:
    """Where a page of this member's session is kept: one entry per page and address,
    written over when what it shows changes (so the cache holds no dead entries)."""
    user = request.user
    where = (
        page,
        user.pk,
        request.session.session_key,
        request.path,
        request.META.get("QUERY_STRING", ""),
        bool(getattr(request, "htmx", False)),
    )
    return f"{KEY_PREFIX}:{user.pk}:{hashlib.sha256(repr(where).encode()).hexdigest()}"


def _version(request: HttpRequest, data: str, extra: Any) -> str:
    """What the entry must have been rendered from to be served: the rows' digest, the
    member's row, the language, time zone, settings, code and the page's `extra`."""
    content = (
        translation.get_language(),
        timezone.get_current_timezone_name(),
        plain(request.user),
        settings_digest(),
        code_digest(),
        data,
        plain(extra),
    )
    return hashlib.sha256(repr(content).encode()).hexdigest()


# --- serving ------------------------------------------------------------------------------


@dataclass
class Rendered:
    """A page rendered with markers (_marks): the response, the per-request `state` it shows
    (see `serve`), what computing that state again needs (`meta`, kept with the entry)
    and the first moment the clock changes what it shows (`until`; None: never)."""

    response: HttpResponse
    state: tuple[Any, ...] = ()
    meta: object = None
    until: datetime.datetime | None = None


def cacheable(request: HttpRequest) -> bool:
    """A member's plain GET of a page, with no query string (each would be an entry of
    its own: anyone could fill the cache) and no flash message waiting to be shown."""
    user = getattr(request, "user", None)
    htmx = getattr(request, "htmx", None)
    return bool(
        enabled()
        and request.method == "GET"
        and not request.META.get("QUERY_STRING")
        and user is not None
        and user.is_authenticated
        and request.session.session_key
        and not (htmx and not htmx.boosted)
        and not len(messages.get_messages(request))
    )


def serve(
    request: HttpRequest,
    page: str,
    render: Callable[[dict[str, str]], Rendered],
    *,
    extra: Any = (),
    state: Callable[[Any, dict[str, Any]], tuple[Any, ...]] | None = None,
    prefetch: Iterable[str] = (),
) -> HttpResponse:
    """The page from the cache, or rendered by `render(marks)` and kept.

    `render` gets the context entries to render with (the markers, or nothing when the
    page is not cached) and returns a Rendered. `extra`: anything else the page shows
    that is not in SOURCES (the brand, a claim's slug...), or a callable making it from
    the values of the cache keys `prefetch` (read with the entry, in one round trip;
    missing ones are absent), called again with none before a render. `state(meta, read)`:
    what this request shows of what changes without a row changing (a re-read of the
    accounts being under way), computed from the `meta` the render kept and the values
    of `prefetch` (`read`): one entry per state.
    """
    if not cacheable(request):
        return render({}).response
    member_id = int(request.user.pk or 0)  # a member: cacheable() said so
    slot = _slot(request, page)
    read = _read([slot, *prefetch])
    made = extra(read) if callable(extra) else extra
    version = _version(request, fingerprint(member_id), made)
    entry = _valid(read.get(slot), version)
    if entry is not None:
        page_and_marks = entry["pages"].get(state(entry["meta"], read) if state else ())
        if page_and_marks is not None:
            response = HttpResponse(content_type=entry["content_type"])
            response.content = _fill(request, *page_and_marks)
            return response
    with _snapshot():
        # Again, in the snapshot the render reads: what is kept is what this describes.
        made = extra({}) if callable(extra) else extra
        version = _version(request, fingerprint(member_id), made)
        marks = _marks()
        rendered = render(marks)
    response = rendered.response
    if response.streaming or not response.content:
        return response
    html = response.content.decode(response.charset)
    if response.status_code == 200:
        _keep(slot, version, rendered, html, marks, response)
    response.content = _fill(request, html, marks)
    return response


def _read(keys: list[str]) -> dict[str, Any]:
    try:
        return cache.get_many(keys)
    except Exception:  # an unreadable entry is no entry
        return {}


def _valid(entry: Any, version: str) -> dict[str, Any] | None:
    """`entry` if it was rendered from `version` and the clock has not passed its
    `until`."""
    if not isinstance(entry, dict) or entry.get("version") != version:
        return None
    if entry["until"] is not None and time.time() >= entry["until"]:
        return None
    return entry


def _keep(
    slot: str,
    version: str,
    rendered: Rendered,
    html: str,
    marks: dict[str, str],
    response: HttpResponse,
) -> None:
    until = rendered.until.timestamp() if rendered.until else None
    old = _valid(_read([slot]).get(slot), version) or {}
    pages = old.get("pages", {}) if old.get("until") == until else {}
    entry = {
        "version": version,
        "until": until,
        "meta": rendered.meta,
        "content_type": response["Content-Type"],
        "pages": {**pages, rendered.state: (html, marks)},
    }
    timeout = ENTRY_SECONDS if until is None else max(1, min(ENTRY_SECONDS, until - time.time()))
    with contextlib.suppress(Exception):  # the page is served regardless
        cache.set(slot, entry, int(timeout) + 1)


def _fill(request: HttpRequest, html: str, marks: dict[str, str]) -> str:
    """This request's CSRF token (a fresh mask of this session's secret) and nonce, in
    place of the markers the page was rendered with."""
    if marks["csrf_token"] in html:
        html = html.replace(marks["csrf_token"], get_token(request))
    if marks["csp_nonce"] in html:
        html = html.replace(marks["csp_nonce"], str(get_nonce(request)))
    return html


class _snapshot:
    """One REPEATABLE READ transaction on PostgreSQL (a snapshot for the digest and the
    render); as it is when the request is in a transaction already (tests)."""

    def __enter__(self) -> "_snapshot":
        self.atomic = None
        if not connection.in_atomic_block:
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.atomic is not None:
            self.atomic.__exit__(*exc)


def until_of(
    moments: Iterable[datetime.datetime | None], now: datetime.datetime
) -> datetime.datetime | None:
    """The first of `moments` (datetimes, None ignored) after `now`."""
    later = [moment for moment in moments if moment is not None and moment > now]
    return min(later, default=None)


def timeuntil_turns(
    at: datetime.datetime | None, now: datetime.datetime
) -> datetime.datetime | None:
    """When `{{ at|timeuntil }}` next reads differently (it counts whole minutes)."""
    if at is None or at <= now:
        return None
    left = (at - now).total_seconds() % 60
    return now + datetime.timedelta(seconds=left or 60)
