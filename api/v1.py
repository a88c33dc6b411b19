"""The read API, version 1 (/api/v1/): django-ninja operations and their OpenAPI
description (/api/v1/openapi.json, browsable at /api/v1/docs).

Authentication, scopes and limits: api/auth.py. The reads: api/reads.py. Every answer
other than 200 is JSON `{"error": <code>, "detail": <sentence>}`.
"""

import datetime
import re
from typing import Any
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, NinjaAPI, Path, Query, Schema
from ninja.errors import ValidationError
from ninja.openapi.docs import Swagger
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder

from api import auth, reads
from api.auth import ApiKeyAuth, Refusal
from api.models import Scope
from api.schemas import (
    EXAMPLE_ACCOUNT,
    EXAMPLE_COMPLETION,
    EXAMPLE_MEMBER,
    STATES,
    CompletionPage,
    Error,
    MemberAccounts,
    MemberCompletions,
)
from claims.models import Completion

DESCRIPTION = """\
Read what Connect & Claim knows about the host site's members: their completions and
connected apps, and each claim's completions.

Authenticate with an API key made in the admin (API keys, Add), sent as
`Authorization: Bearer <key>`. Keys carry read-only scopes (`completions:read`,
`accounts:read`) and a rate limit each; past it the API answers 429 with `Retry-After`.
A member is named by the host site's id (`host_id`: its OpenID Connect `sub`) or by
their id here (`external_id`). Every error is JSON: `{"error": "<code>", "detail":
"<what to do>"}`. Only GET is answered (any other method: 405), and no browser may call
the API from another site (no CORS): call it from your servers.
"""


class _Encoder(NinjaJSONEncoder):
    """Times in full, in UTC with a Z ("2026-12-07T10:00:00.123456Z"), as the webhooks
    to the host site write them (Django's encoder would cut them to milliseconds): a
    time read here compares equal to the same time in a webhook."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime) and o.tzinfo is not None:
            return o.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
        return super().default(o)


class _Renderer(JSONRenderer):
    encoder_class = _Encoder


api = NinjaAPI(
    title="Connect & Claim read API",
    version="1.0.0",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    renderer=_Renderer(),
    # validatorUrl None: the docs page never asks swagger.io to check the description
    # (it works offline, under the site's Content-Security-Policy).
    docs=Swagger(settings={"validatorUrl": None}),
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,80}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STATE_VALUES = frozenset(Completion.State.values)


def _examples(*refusals: Refusal) -> dict:
    """The answers a status may carry, as OpenAPI examples keyed by their error code."""
    return {
        "application/json": {
            "examples": {
                refusal.code: {
                    "summary": refusal.code,
                    "value": {"error": refusal.code, "detail": refusal.detail},
                }
                for refusal in refusals
            }
        }
    }


_CHALLENGE = {
    "description": '`Bearer realm="api"`, with `error="invalid_token"` when a key was sent '
    'but is not one of ours, or `error="insufficient_scope"` and the scope needed (RFC 6750).',
    "schema": {"type": "string"},
}
_ERROR_DOCS: dict[int, dict[str, Any]] = {
    400: {"description": "The query is not one this operation takes; `detail` says why."},
    401: {
        "description": "No API key, or not one of ours.",
        "headers": {"WWW-Authenticate": {**_CHALLENGE, "required": True}},
        "content": _examples(auth.missing_key(), auth.invalid_key()),
    },
    403: {
        "description": "The key was revoked, has expired, or lacks this operation's scope.",
        "headers": {"WWW-Authenticate": _CHALLENGE},
        "content": _examples(
            auth.revoked_key(),
            auth.expired_key(),
            auth.insufficient_scope(Scope.COMPLETIONS_READ.value),
        ),
    },
    429: {
        "description": "Past the key's rate limit, or too many invalid keys from this address.",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before calling again.",
                "required": True,
                "schema": {"type": "integer"},
            }
        },
        "content": _examples(auth.rate_limited(300, 60, 12), auth.too_many_failures(540)),
    },
}
ERRORS: dict[int, type[Schema]] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


def _documented(example: dict, *refusals: Refusal) -> dict:
    """What the operation answers, as documented: an example of its 200, its 400s and
    404s (`refusals`, by status) and the errors every operation shares."""
    by_status: dict[int, list[Refusal]] = {}
    for refusal in refusals:
        by_status.setdefault(refusal.status, []).append(refusal)
    own = {status: {"content": _examples(*found)} for status, found in by_status.items()}
    return {
        "responses": {
            200: {"content": {"application/json": {"example": example}}},
            **_ERROR_DOCS,
            404: {"description": by_status[404][0].detail, **own.pop(404)},
            **{status: {**_ERROR_DOCS[status], **docs} for status, docs in own.items()},
        }
    }


def _refused(request: HttpRequest, refusal: Any) -> HttpResponse:
    response = api.create_response(
        request, {"error": refusal.code, "detail": refusal.detail}, status=refusal.status
    )
    for name, value in refusal.headers.items():
        response[name] = value
    # The access log has a line for each; Django's own warning per 4xx would repeat it,
    # once per request of a flood (api/auth.py logs a flood once per window instead).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _invalid(request: HttpRequest, exc: Any) -> HttpResponse:
    said = []
    for error in exc.errors[:5]:
        where = [str(part) for part in error.get("loc", ()) if part not in ("query", "path")]
        said.append(f"{'.'.join(where) or 'query'}: {error.get('msg', 'not valid')}")
    return _refused(request, Refusal(400, "bad_request", "; ".join(said) + "."))


def _not_found(request: HttpRequest, exc: Any) -> HttpResponse:
    return _refused(request, Refusal(404, "not_found", "There is nothing at this address."))


def _unexpected(request: HttpRequest, exc: Any) -> HttpResponse:
    """Any other error goes on to Django, DEBUG or not: config/middleware.py retries a
    request whose database connection dropped, and a bug is a 500 reported as any other
    (ninja's own handler would answer DEBUG's traceback as plain text instead)."""
    raise exc


# Handlers take Any: ninja's type says an exception or its class (it passes the first).
api.add_exception_handler(Refusal, _refused)
api.add_exception_handler(ValidationError, _invalid)
api.add_exception_handler(Http404, _not_found)
api.add_exception_handler(Exception, _unexpected)


class MemberLookup(Schema):
    host_id: str | None = Field(
        None,
        max_length=255,
        description="The host site's id of the member (its OpenID Connect `sub`).",
        json_schema_extra={"example": "host-alice-0001"},
    )
    external_id: UUID | None = Field(
        None,
        description="The member's id here.",
        json_schema_extra={"example": EXAMPLE_MEMBER["external_id"]},
    )


class CompletionFilter(Schema):
    cursor: str | None = Field(
        None,
        max_length=100,
        description="`next_cursor` of the previous page; leave out for the first page.",
    )
    limit: int = Field(
        DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Rows per page, 1 to {MAX_LIMIT}."
    )
    state: str | None = Field(
        None, max_length=20, description=f"Only completions in this state: {STATES}."
    )


# The refusals of the operations' own, one function each (a raised exception keeps its
# traceback: a fresh one per request), shown in the description as examples too.


def both_or_neither() -> Refusal:
    return Refusal(
        400,
        "bad_request",
        "Name the member with exactly one of host_id (the host site's id) and "
        "external_id (their id here).",
    )


def bad_host_id() -> Refusal:
    return Refusal(400, "bad_request", "host_id must be text without control characters.")


def bad_cursor() -> Refusal:
    return Refusal(
        400,
        "bad_request",
        "cursor is not one this API gave: pass a page's next_cursor unchanged, or leave it "
        "out to start at the first page.",
    )


def bad_state() -> Refusal:
    return Refusal(400, "bad_request", f"state must be one of {STATES}.")


def no_member() -> Refusal:
    return Refusal(404, "member_not_found", "No member has this id.")


def no_claim() -> Refusal:
    return Refusal(404, "claim_not_found", "No claim has this slug.")


def _given_once(request: HttpRequest, *names: str) -> None:
    """400 for a parameter given more than once (`?host_id=a&host_id=b`): which one
    counts would be a guess, and a URL built by pasting text into it can carry a second."""
    for name in names:
        if len(request.GET.getlist(name)) > 1:
            raise Refusal(400, "bad_request", f"{name} is given more than once: give it once.")


def _member(request: HttpRequest, lookup: MemberLookup) -> tuple[int, dict]:
    _given_once(request, "host_id", "external_id")
    if (lookup.host_id is None) == (lookup.external_id is None):
        raise both_or_neither()
    if lookup.host_id is not None and (not lookup.host_id or _CONTROL.search(lookup.host_id)):
        raise bad_host_id()
    found = reads.find_member(host_id=lookup.host_id, external_id=lookup.external_id)
    if found is None:
        raise no_member()
    return found


@api.get(
    "/members/completions",
    response={200: MemberCompletions, **ERRORS},
    auth=ApiKeyAuth(Scope.COMPLETIONS_READ),
    operation_id="member_completions",
    summary="A member's completions",
    description="Every completion of one member, oldest first. Scope: `completions:read`.",
    tags=["members"],
    openapi_extra=_documented(
        {"member": EXAMPLE_MEMBER, "results": [EXAMPLE_COMPLETION]},
        both_or_neither(),
        bad_host_id(),
        no_member(),
    ),
)
def member_completions(request: HttpRequest, lookup: Query[MemberLookup]) -> dict:
    member_id, member = _member(request, lookup)
    return {"member": member, "results": reads.member_completions(member_id, member)}


@api.get(
    "/members/accounts",
    response={200: MemberAccounts, **ERRORS},
    auth=ApiKeyAuth(Scope.ACCOUNTS_READ),
    operation_id="member_accounts",
    summary="A member's connected apps",
    description="The accounts one member connected (through Pipedream), with their "
    "health. Scope: `accounts:read`.",
    tags=["members"],
    openapi_extra=_documented(
        {"member": EXAMPLE_MEMBER, "results": [EXAMPLE_ACCOUNT]},
        both_or_neither(),
        bad_host_id(),
        no_member(),
    ),
)
def member_accounts(request: HttpRequest, lookup: Query[MemberLookup]) -> dict:
    member_id, member = _member(request, lookup)
    return {"member": member, "results": reads.member_accounts(member_id)}


@api.get(
    "/claims/{slug}/completions",
    response={200: CompletionPage, **ERRORS},
    auth=ApiKeyAuth(Scope.COMPLETIONS_READ),
    operation_id="claim_completions",
    summary="A claim's completions, a page at a time",
    description="The claim's completions in id order (oldest first), `limit` at a time. "
    "Pass each page's `next_cursor` as `cursor` for the next. None is listed twice, and "
    "one made while you page comes at the end. Paging lists rows, not changes: a page "
    "already read does not show later changes; with `state`, a completion that moves "
    "into that state behind your cursor is not listed; and one whose saving is still "
    "under way as you read a page can, rarely, land behind it. To follow every change, "
    "use the webhooks, or read again from the first page. Scope: `completions:read`.",
    tags=["claims"],
    openapi_extra=_documented(
        {"results": [EXAMPLE_COMPLETION], "next_cursor": reads.encode_cursor(123)},
        bad_cursor(),
        bad_state(),
        no_claim(),
    ),
)
def claim_completions(
    request: HttpRequest,
    filters: Query[CompletionFilter],
    slug: str = Path(..., description="The claim's slug.", example="github-starter"),
) -> dict:
    _given_once(request, "cursor", "limit", "state")
    after = None
    if filters.cursor is not None:
        try:
            after = reads.decode_cursor(filters.cursor)
        except reads.BadCursor:
            raise bad_cursor() from None
    if filters.state is not None and filters.state not in _STATE_VALUES:
        raise bad_state()
    claim_id = reads.claim_id_for(slug) if _SLUG.fullmatch(slug) else None
    if claim_id is None:
        raise no_claim()
    results, next_cursor = reads.claim_completions(
        claim_id, after=after, limit=filters.limit, state=filters.state
    )
    return {"results": results, "next_cursor": next_cursor}
