"""The claim builder's endpoints: what static/js/claim_builder.js asks while an operator
fills a requirement (the contract: docs of the builder, endpoints 1-7).

All answer JSON under /admin/claims/claim/builder/ (ClaimAdmin.get_urls adds them), to
active staff who may add or change claims; bad input is a 400 with a sentence, upstream
failures a 502 or 503 with one. The admin's own view wrapper comes first (staff only,
the second factor when required, CSRF, no caching).

What a member's account answers is the member's: remote options loaded on a member's
account, the members list, and Try it need claims.view_member_values, and a Try it's
answer goes only to the staff member who asked, while they hold it. The components and
proxy hosts are the operator's allowlists' (claims/allowlists.py), checked before any
call. Calls to Pipedream share the web request's budget (core.client.web_budget), so a
slow Pipedream answers 503 instead of holding a worker.
"""

import functools
import json
import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import JsonResponse
from django.urls import path, reverse
from django.utils import timezone

from claims import allowlists
from claims.admin.forms import json_problem
from claims.admin.member_values import can_see
from claims.job_models import ClaimJob
from claims.models import Claim, Requirement
from claims.tasks import claim_try_it_task
from connections import pipedream
from connections import services as connections_services
from connections.models import App, ConnectedAccount
from connections.pipedream.components import PROVIDED_TYPES
from core import ratelimit
from core.client import web_budget

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes of a POST's JSON body
MEMBERS_SHOWN = 10
OPTIONS_SHOWN = 1000
TEXT_MAX = 500  # a string field of a body or query
TRY_IT_LIMIT = 20  # Try it jobs a staff member may start in a minute
# What Try it's validation leaves to the operator: the comparison is chosen from its answer.
NOT_YET = ("path", "comparison", "value", "text", "identity_path")
EDIT_PERMISSIONS = ("claims.add_claim", "claims.change_claim")


class Refused(Exception):
    """An answer other than 200: the status and the sentence to show."""

    def __init__(self, status: int, problem: str) -> None:
        self.status = status
        self.problem = problem
        super().__init__(problem)


def _problem(status: int, problem: str) -> JsonResponse:
    return JsonResponse({"problem": problem}, status=status)


def _upstream_failed(exc: pipedream.PipedreamError) -> JsonResponse:
    """Pipedream's failure as a sentence: its refusal of what was asked is a 400 (the
    prop or the component is wrong), being down or slow a 503, anything else a 502."""
    logger.warning("Claim builder: %s", exc)
    if isinstance(exc, pipedream.BadRequest | pipedream.NotFound):
        return _problem(400, str(exc))
    if exc.transient:
        response = _problem(503, f"{exc} Try again in a minute.")
        response["Retry-After"] = "30"
        return response
    return _problem(502, str(exc))


def endpoint(method: str, *, upstream: bool = False):
    """A builder endpoint: its HTTP method, the claim editors' permission, and its
    refusals and Pipedream's failures as JSON; with `upstream`, inside the web budget."""

    def wrap(view):
        inner = web_budget(view) if upstream else view

        @functools.wraps(view)
        def guarded(request, *args: Any, **kwargs: Any) -> JsonResponse:
            if request.method != method:
                response = _problem(405, f"Use {method} here.")
                response["Allow"] = method
                return response
            user = request.user
            if not (
                user.is_active
                and user.is_staff
                and any(user.has_perm(name) for name in EDIT_PERMISSIONS)
            ):
                return _problem(403, "The claim builder is for staff who may add or change claims.")
            try:
                return inner(request, *args, **kwargs)
            except Refused as refused:
                return _problem(refused.status, refused.problem)
            except pipedream.PipedreamError as exc:
                return _upstream_failed(exc)

        return guarded

    return wrap


# --- Reading what was sent ----------------------------------------------------------------


def _body(request) -> dict[str, Any]:
    """The POST's JSON object, at most MAX_BODY bytes."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    too_big = f"The request is too big: send at most {MAX_BODY // 1024} KiB of JSON."
    if declared > MAX_BODY:
        raise Refused(400, too_big)
    raw = request.body
    if len(raw) > MAX_BODY:
        raise Refused(400, too_big)
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise Refused(400, "The request's body is not UTF-8 JSON: send a JSON object.") from None
    # Props it carries are stored with the job and sent to Pipedream: bounded as the
    # requirement form bounds them (no NaN, no NUL, no deep nesting).
    if problem := json_problem(text, what="The request's values"):
        raise Refused(400, problem)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(400, "The request's body is not JSON: send a JSON object.") from None
    if not isinstance(data, dict):
        raise Refused(400, "The request's body must be a JSON object, not a list or a value.")
    return data


def _text(data: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Refused(400, f"{name} must be a string.")
    value = value.strip()
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise Refused(400, f"{name} holds control characters: send plain text.")
    if required and not value:
        raise Refused(400, f"Give {name}.")
    if len(value) > TEXT_MAX:
        raise Refused(400, f"{name} is too long: at most {TEXT_MAX} characters.")
    return value


def _props(data: dict[str, Any]) -> dict[str, Any]:
    props = data.get("props")
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise Refused(400, "props must be a JSON object of the props' values.")
    return props


def _app(slug: str) -> App:
    app = App.objects.filter(slug=slug).first()
    if app is None:
        raise Refused(400, f"There is no app {slug[:100]!r} in the catalogue.")
    return app


def _allowed(key: str) -> str:
    """An action key the operator's allowlist names: 403 with its sentence otherwise."""
    if problem := allowlists.component_problem(key):
        raise Refused(403, problem)
    return key


def _member_account(username: str, app: App):
    """(member, their healthy account of `app`): 400 with a sentence otherwise."""
    member = get_user_model().objects.filter(username=username, is_active=True).first()
    if member is None:
        raise Refused(400, f"There is no active member {username[:150]!r}.")
    account = (
        ConnectedAccount.objects.filter(member=member, app=app)
        .usable()
        .order_by("-updated_at")
        .first()
    )
    if account is None:
        raise Refused(
            400, f"{member.username} has no healthy {app.name} account: choose a member with one."
        )
    return member, account


def _account_for(request, app: App, username: str) -> tuple[str, str, str]:
    """(external user id, account id, "site" | "member") to load a component's options or
    props with: the site's account of the app, else the member's (their data: it needs
    the permission to see members' values)."""
    site = connections_services.site_account_for(app.slug)
    if site is not None:
        return connections_services.site_external_user_id(), site.pipedream_id, "site"
    neither = f"Connect a site account of {app.name} or choose a member with one."
    if not username:
        raise Refused(400, neither)
    if not can_see(request):
        raise Refused(
            403,
            f"There is no site account of {app.name}, and a member's account answers with "
            "their data: that needs the permission to see members' values.",
        )
    try:
        member, account = _member_account(username, app)
    except Refused as refused:
        raise Refused(400, f"{refused.problem.rstrip('.')}. {neither}") from None
    return str(member.external_id), account.pipedream_id, "member"


# --- Shaping Pipedream's props for the page -------------------------------------------------


def _option(option: Any) -> dict[str, Any]:
    if isinstance(option, dict):
        value = option.get("value")
        label = option.get("label")
        return {"label": str(label if label is not None else value), "value": value}
    return {"label": str(option), "value": option}


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def prop_shown(prop: Any) -> dict[str, Any] | None:
    """A configurable prop as the builder renders it, or None for one the operator does
    not fill: the account, and what Pipedream fills itself."""
    if not isinstance(prop, dict) or not isinstance(prop.get("name"), str):
        return None
    kind = str(prop.get("type") or "string")
    if (
        kind == "app"
        or kind.startswith(("$.interface.", "$.service."))
        or kind in PROVIDED_TYPES
        or prop.get("hidden")
    ):
        return None
    options = prop.get("options")
    return {
        "name": prop["name"],
        "type": kind,
        "label": str(prop.get("label") or prop["name"]),
        "description": str(prop.get("description") or ""),
        "optional": bool(prop.get("optional")),
        "default": prop.get("default"),
        "options": [_option(o) for o in options] if isinstance(options, list) else None,
        "remote": bool(prop.get("remoteOptions")),
        "reload": bool(prop.get("reloadProps")),
        "min": _number(prop.get("min")),
        "max": _number(prop.get("max")),
    }


def _props_shown(props: Any) -> list[dict[str, Any]]:
    if not isinstance(props, list):
        return []
    return [shown for prop in props if (shown := prop_shown(prop)) is not None]


def _configured(key: str, app: App, account_id: str, props: dict[str, Any]) -> dict[str, Any]:
    """`props` with the account under the component's own app prop (never one sent)."""
    definition = pipedream.get_client().definition(key)
    prop = pipedream.app_prop(definition, app.slug)
    if prop is None or not isinstance(prop.get("name"), str):
        raise Refused(400, f"{key} takes no {app.name} account.")
    return {**props, prop["name"]: {"authProvisionId": account_id}}


def _upstream_errors(answer: dict[str, Any], what: str) -> None:
    errors = answer.get("errors")
    if isinstance(errors, list) and errors:
        said = "; ".join(str(error) for error in errors)[:500]
        raise Refused(400, f"Pipedream could not {what}: {said}")


# --- The endpoints ------------------------------------------------------------------------


@endpoint("GET", upstream=True)
def actions_view(request) -> JsonResponse:
    """1. The allowed actions of an app (component keys are <app slug>-<name>)."""
    app = _app(_text(request.GET, "app"))
    client = pipedream.get_client()
    actions = []
    for key in allowlists.read_components():
        if not key.startswith(f"{app.slug}-"):
            continue
        try:
            definition = client.definition(key)
        except pipedream.NotFound:
            logger.warning("Claim builder: Pipedream has no component %s (allowlisted)", key)
            continue
        prop = pipedream.app_prop(definition)
        if definition.get("component_type") != "action" or not prop or prop.get("app") != app.slug:
            continue
        actions.append(
            {
                "key": key,
                "name": str(definition.get("name") or key),
                "description": str(definition.get("description") or ""),
            }
        )
    return JsonResponse({"actions": actions})


@endpoint("GET", upstream=True)
def props_view(request) -> JsonResponse:
    """2. An allowed component's props, as the builder renders them."""
    key = _allowed(_text(request.GET, "action"))
    definition = pipedream.get_client().definition(key)
    return JsonResponse(
        {
            "key": key,
            "name": str(definition.get("name") or key),
            "description": str(definition.get("description") or ""),
            "props": _props_shown(definition.get("configurable_props")),
        }
    )


@endpoint("POST", upstream=True)
def options_view(request) -> JsonResponse:
    """3. A prop's remote options, on the site's account of the app or a member's."""
    data = _body(request)
    key = _allowed(_text(data, "action"))
    app = _app(_text(data, "app"))
    prop = _text(data, "prop")
    props, query = _props(data), _text(data, "query", required=False)
    external_user_id, account_id, whose = _account_for(
        request, app, _text(data, "member", required=False)
    )
    answer = pipedream.get_client().configure_prop(
        component_id=key,
        external_user_id=external_user_id,
        prop_name=prop,
        configured_props=_configured(key, app, account_id, props),
        query=query or None,
    )
    _upstream_errors(answer, f"load the options of {prop}")
    found = [_option(o) for o in answer.get("options") or [] if o is not None]
    found += [_option(o) for o in answer.get("stringOptions") or [] if o is not None]
    return JsonResponse({"options": found[:OPTIONS_SHOWN], "account": whose})


@endpoint("POST", upstream=True)
def reload_view(request) -> JsonResponse:
    """4. A component's props once its reloadProps props are set (its dynamic props)."""
    data = _body(request)
    key = _allowed(_text(data, "action"))
    app = _app(_text(data, "app"))
    props = _props(data)
    external_user_id, account_id, _ = _account_for(
        request, app, _text(data, "member", required=False)
    )
    answer = pipedream.get_client().reload_props(
        component_id=key,
        external_user_id=external_user_id,
        configured_props=_configured(key, app, account_id, props),
    )
    _upstream_errors(answer, f"reload the props of {key}")
    dynamic = answer.get("dynamicProps")
    dynamic = dynamic if isinstance(dynamic, dict) else {}
    return JsonResponse(
        {
            "props": _props_shown(dynamic.get("configurableProps")),
            "dynamic_props_id": str(dynamic.get("id") or ""),
        }
    )


def _requirement_to_try(data: dict[str, Any]) -> Requirement:
    """The requirement sent, checked as Requirement.clean checks it (the operator's
    allowlists included), but for what is chosen from its answer."""
    sent = data.get("requirement")
    if not isinstance(sent, dict):
        raise Refused(
            400, "requirement must be a JSON object: app, kind, action, props, proxy_url."
        )
    app_pk = sent.get("app")
    if not isinstance(app_pk, int) or isinstance(app_pk, bool):
        raise Refused(400, "requirement.app must be the app's id, a number.")
    app = App.objects.filter(pk=app_pk).first()
    if app is None:
        raise Refused(400, f"There is no app with the id {app_pk}.")
    kind = _text(sent, "kind")
    if kind not in (Requirement.Kind.ACTION, Requirement.Kind.PROXY):
        raise Refused(400, "Try it runs an action or a proxy read: kind is action or proxy.")
    requirement = Requirement(
        app=app,
        kind=kind,
        action=_text(sent, "action", required=False),
        props=_props(sent),
        proxy_url=_text(sent, "proxy_url", required=False),
    )
    try:
        requirement.clean_fields(exclude=["claim", *NOT_YET])
        requirement.clean()
    except ValidationError as exc:
        problems = {k: v for k, v in exc.message_dict.items() if k not in NOT_YET}
        if problems:
            name, messages = next(iter(problems.items()))
            raise Refused(400, f"{name}: {' '.join(messages)}") from None
    return requirement


def _enqueue(job_id: int) -> None:
    try:
        claim_try_it_task.enqueue(job_id)
    except Exception:
        logger.exception("Could not enqueue claim_try_it_task for job %s", job_id)
        ClaimJob.objects.filter(pk=job_id, state=ClaimJob.State.QUEUED).update(
            state=ClaimJob.State.FAILED,
            finished_at=timezone.now(),
            error="The check could not be queued for the task worker: try again.",
        )


@endpoint("POST")
def try_view(request) -> JsonResponse:
    """5. Try a requirement's check once on a member's account: a job on the worker."""
    if not can_see(request):
        raise Refused(
            403,
            "Try it shows what a member's account answers: that needs the "
            "permission to see members' values.",
        )
    data = _body(request)
    claim_pk = data.get("claim")
    if claim_pk is not None and (not isinstance(claim_pk, int) or isinstance(claim_pk, bool)):
        raise Refused(400, "claim must be the claim's id, a number, or null.")
    claim = Claim.objects.filter(pk=claim_pk).first() if claim_pk is not None else None
    if claim_pk is not None and claim is None:
        raise Refused(400, f"There is no claim with the id {claim_pk}.")
    requirement = _requirement_to_try(data)
    member, _ = _member_account(_text(data, "member"), requirement.app)
    # Each Try it calls Pipedream with a member's account: a few a minute is plenty.
    wait = ratelimit.hit("claims-try-it", request.user.pk, limit=TRY_IT_LIMIT, window=60)
    if wait is not None:
        raise Refused(
            429, f"That is {TRY_IT_LIMIT} tries in a minute: try again in {wait} seconds."
        )
    job = ClaimJob.objects.create(
        kind=ClaimJob.Kind.TRY_IT,
        claim=claim,
        member=member,
        requested_by=request.user,
        show_values=True,
        try_requirement={
            "app": requirement.app_id,
            "kind": requirement.kind,
            "action": requirement.action,
            "props": requirement.props,
            "proxy_url": requirement.proxy_url,
        },
    )
    transaction.on_commit(functools.partial(_enqueue, job.pk))
    status_url = reverse("admin:claims_claim_builder_try_status", args=[job.pk])
    return JsonResponse({"job": job.pk, "status_url": status_url}, status=202)


@endpoint("GET")
def try_status_view(request, job_id: int) -> JsonResponse:
    """6. A Try it job's state and answer: only for whoever asked, while they may see it."""
    job = (
        ClaimJob.objects.filter(pk=job_id, kind=ClaimJob.Kind.TRY_IT, requested_by=request.user)
        .only("state", "result", "error", "started_at", "heartbeat_at", "created_at")
        .first()
    )
    if job is None or not can_see(request):
        raise Refused(404, "There is no Try it of yours with this id.")
    if job.stalled:
        return JsonResponse(
            {
                "state": ClaimJob.State.FAILED,
                "result": None,
                "error": "The task worker stopped while checking: try again.",
            }
        )
    done = job.state == ClaimJob.State.DONE
    return JsonResponse(
        {"state": job.state, "result": job.result if done else None, "error": job.error}
    )


@endpoint("GET")
def members_view(request) -> JsonResponse:
    """7. Members whose username or email starts with q, for Try it's member field."""
    if not can_see(request):
        raise Refused(403, "Listing members needs the permission to see members' values.")
    q = _text(request.GET, "q", required=False)[:150]
    if not q:
        return JsonResponse({"members": []})
    found = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(username__istartswith=q) | Q(email__istartswith=q))
        .order_by("username")
        .values_list("username", "email")[:MEMBERS_SHOWN]
    )
    return JsonResponse(
        {
            "members": [
                {"username": username, "label": f"{username} ({email})" if email else username}
                for username, email in found
            ]
        }
    )


def urls(admin_site) -> list:
    """The endpoints' URLs, for ClaimAdmin.get_urls: admin:claims_claim_builder_<name>."""
    views = [
        ("actions/", actions_view, "actions"),
        ("props/", props_view, "props"),
        ("options/", options_view, "options"),
        ("reload/", reload_view, "reload"),
        ("try/", try_view, "try"),
        ("try/<int:job_id>/", try_status_view, "try_status"),
        ("members/", members_view, "members"),
    ]
    return [
        path(f"builder/{route}", admin_site.admin_view(view), name=f"claims_claim_builder_{name}")
        for route, view, name in views
    ]
