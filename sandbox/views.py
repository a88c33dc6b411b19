"""The sandbox control page (/sandbox/, superusers only): accounts, deployed triggers, faults,
webhook deliveries, the emulated BitBadges (claims with their uses and pending
attempts, dynamic stores, the API key's credits) and the host site's OpenID Connect
provider (its members and registered sites: sandbox/host/overview.py).

It is how a demo or a manual test makes the outside world misbehave: mark an account
unhealthy or dead, edit what its upstream reports (the profile the demo actions read),
make a deployed trigger emit an event (signed deliveries to its webhook URLs), inject
faults into the emulated endpoints, and watch or retry webhooks.
"""

import functools
import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, OuterRef, Q, Subquery, Window
from django.db.models.functions import RowNumber
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from sandbox.bitbadges import credits as bb_credits
from sandbox.bitbadges import demo as bb_demo
from sandbox.common.fault_specs import FaultSpecError, clean_spec, describe
from sandbox.common.faults import ENDPOINTS
from sandbox.common.models import Fault
from sandbox.credentials import SANDBOX_CREDENTIALS
from sandbox.forms import CreditsForm, FaultForm, HealthForm, ProfileForm
from sandbox.host.overview import overview as host_overview
from sandbox.member_names import member_names, name_rows
from sandbox.pipedream import components, services, triggers, webhooks
from sandbox.pipedream.models import (
    Account,
    ConnectToken,
    DeployedTrigger,
    TriggerEvent,
    WebhookDelivery,
)


def superuser_required(view):
    """Superusers only: the page rewrites what the emulated upstreams answer for every
    member, so no staff role short of a superuser may use it. Anonymous visitors never
    get here: LoginRequiredMiddleware sends them to the login page first."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_superuser:
            raise PermissionDenied("The sandbox control page is for superusers.")
        return view(request, *args, **kwargs)

    return wrapped


def _settings_faults() -> list[dict]:
    rows = []
    for pattern, spec in (getattr(settings, "SANDBOX_FAULTS", None) or {}).items():
        try:
            text = describe(clean_spec(spec))
        except FaultSpecError as exc:
            text = f"ignored: {exc}"
        rows.append({"endpoint": pattern, "description": text})
    return rows


def _back(anchor: str):
    return redirect(f"{reverse('sandbox:index')}#{anchor}")


@require_GET
@superuser_required
def index(request):
    return _render_index(request)


def _render_index(request, fault_form=None, credits_form=None, status=200):
    """The page's context in a fixed number of queries, whatever the number of rows.

    Members appear by username (sandbox/member_names.py), their external id small beside it.
    """
    accounts = list(Account.objects.select_related("user").order_by("-created_at")[:100])
    for account in accounts:
        account.profile_text = json.dumps(account.profile, indent=2, sort_keys=True)
    deployed = _deployed_triggers()
    tokens = list(ConnectToken.objects.all()[:10])
    names = member_names(
        [account.user.external_id for account in accounts]
        + [trigger.user.external_id for trigger in deployed]
        + [whose for trigger in deployed for _, whose in trigger.stargazer_ids]
        + [token.external_user_id for token in tokens]
    )
    name_rows(accounts, lambda account: account.user.external_id, names)
    name_rows(deployed, lambda trigger: trigger.user.external_id, names)
    name_rows(tokens, lambda token: token.external_user_id, names)
    for trigger in deployed:
        trigger.stargazers = [
            (login, names.get(whose, ""), whose) for login, whose in trigger.stargazer_ids
        ]
    overview = bb_demo.overview()
    context = {
        "accounts": accounts,
        "deployed_triggers": deployed,
        "faults": Fault.objects.all(),
        "settings_faults": _settings_faults(),
        "fault_form": fault_form or FaultForm(),
        "endpoints": ENDPOINTS,
        "deliveries": WebhookDelivery.objects.all()[:25],
        "tokens": tokens,
        "credentials": SANDBOX_CREDENTIALS,
        "api_base": request.build_absolute_uri("/sandbox/pipedream"),
        "bitbadges_base": request.build_absolute_uri("/sandbox/bitbadges/api/v0"),
        "bitbadges": overview,
        "credits_form": credits_form
        or CreditsForm(initial={"remaining": overview["credits"]["remaining"]}),
        "host": host_overview(),
    }
    return render(request, "sandbox/index.html", context, status=status)


RECENT_DELIVERIES = 5


def _deployed_triggers() -> list[DeployedTrigger]:
    """The latest 50 deployed triggers, each with its last event, its latest deliveries and
    (github-new-star) the logins that may star: four queries in all."""
    last_event = TriggerEvent.objects.filter(trigger=OuterRef("pk")).order_by("-ts", "-pk")
    deployed = list(
        DeployedTrigger.objects.select_related("user", "account")
        .annotate(last_event_pk=Subquery(last_event.values("pk")[:1]))
        .order_by("-created_at")[:50]
    )
    events = TriggerEvent.objects.in_bulk([t.last_event_pk for t in deployed if t.last_event_pk])
    recent: dict[str, list] = {}
    if deployed:
        rows = (
            WebhookDelivery.objects.filter(source__in=[t.trigger_id for t in deployed])
            .annotate(
                recent_rank=Window(RowNumber(), partition_by=F("source"), order_by=F("pk").desc())
            )
            .filter(recent_rank__lte=RECENT_DELIVERIES)
            .order_by("source", "-pk")
        )
        for delivery in rows:
            recent.setdefault(delivery.source, []).append(delivery)
    logins = _github_logins(deployed)
    for trigger in deployed:
        trigger.last_event = events.get(trigger.last_event_pk)
        trigger.recent_deliveries = recent.get(trigger.trigger_id, [])
        trigger.stargazer_ids = _stargazers_of(trigger, logins)
    return deployed


@require_POST
@superuser_required
def account_health(request, pk: int):
    account = get_object_or_404(Account, pk=pk)
    form = HealthForm(request.POST)
    if form.is_valid():
        services.account_set_health(
            account, state=form.cleaned_data["state"], error=form.cleaned_data["error"]
        )
        messages.success(request, f"{account.account_id} is now {form.cleaned_data['state']}.")
    else:
        messages.error(request, "Choose healthy, unhealthy or dead.")
    return _back("accounts")


@require_POST
@superuser_required
def account_profile(request, pk: int):
    account = get_object_or_404(Account, pk=pk)
    form = ProfileForm(request.POST)
    if form.is_valid():
        account.profile = form.cleaned_data["profile"]
        account.save(update_fields=["profile", "updated_at"])
        messages.success(request, f"Saved the profile of {account.account_id}.")
    else:
        messages.error(request, f"{account.account_id}: {' '.join(form.errors['profile'])}")
    return _back("accounts")


@require_POST
@superuser_required
def account_delete(request, pk: int):
    account = get_object_or_404(Account, pk=pk)
    account.delete()
    messages.success(request, f"Deleted {account.account_id} (as if revoked upstream).")
    return _back("accounts")


@require_POST
@superuser_required
def fault_add(request):
    form = FaultForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The fault was not added: see the form.")
        return _render_index(request, fault_form=form, status=400)
    fault = form.save()
    messages.success(request, f"Injecting into {fault.endpoint}: {fault.describe()}.")
    return _back("faults")


@require_POST
@superuser_required
def fault_delete(request, pk: int):
    get_object_or_404(Fault, pk=pk).delete()
    messages.success(request, "Fault removed.")
    return _back("faults")


@require_POST
@superuser_required
def fault_toggle(request, pk: int):
    fault = get_object_or_404(Fault, pk=pk)
    fault.enabled = not fault.enabled
    fault.save(update_fields=["enabled"])
    messages.success(request, f"Fault on {fault.endpoint} {'on' if fault.enabled else 'off'}.")
    return _back("faults")


@require_POST
@superuser_required
def bitbadges_demo(request):
    bb_demo.demo_claims_ensure()
    messages.success(request, "The demo BitBadges claims are in place.")
    return _back("bitbadges")


@require_POST
@superuser_required
def bitbadges_credits(request):
    """Set the remaining credits of the sandbox API key's account (0 pauses deliveries)."""
    form = CreditsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The credits were not changed: see the form.")
        return _render_index(request, credits_form=form, status=400)
    row = bb_credits.credits_set(form.cleaned_data["remaining"])
    messages.success(
        request, f"BitBadges credits: {row.remaining} left of {row.on_chain_total} on chain."
    )
    return _back("bitbadges")


@require_POST
@superuser_required
def deliveries_run(request):
    sent = webhooks.run_pending()
    messages.success(request, f"Sent {len(sent)} pending webhook(s).")
    return _back("webhooks")


@require_POST
@superuser_required
def delivery_retry(request, pk: int):
    delivery = get_object_or_404(WebhookDelivery, pk=pk)
    webhooks.retry(delivery)
    webhooks.deliver(delivery.pk)
    delivery.refresh_from_db()
    messages.success(request, f"Webhook {delivery.event} to {delivery.url}: {delivery.status}.")
    return _back("webhooks")


STARGAZERS_MAX = 50


def _star_triggers(triggers) -> list[DeployedTrigger]:
    return [t for t in triggers if t.component_key == "github-new-star" and t.account is not None]


def _github_logins(triggers) -> dict[tuple, list[tuple[int, str, str]]]:
    """The GitHub accounts of the projects behind these github-new-star triggers, one query:
    {(project id, environment): [(account pk, login, external id), ...]}."""
    scopes = {(t.user.project_id, t.user.environment) for t in _star_triggers(triggers)}
    if not scopes:
        return {}
    where = Q()
    for project_id, environment in scopes:
        where |= Q(user__project_id=project_id, user__environment=environment)
    found: dict[tuple, list[tuple[int, str, str]]] = {}
    accounts = (
        Account.objects.filter(where, app_slug="github")
        .select_related("user")
        .order_by("pk")[: STARGAZERS_MAX * len(scopes) + len(scopes)]
    )
    for account in accounts:
        login = str((account.profile or {}).get("login") or "")
        if login:
            key = (account.user.project_id, account.user.environment)
            found.setdefault(key, []).append((account.pk, login, account.user.external_id))
    return found


def _stargazers_of(trigger: DeployedTrigger, logins: dict) -> list[tuple[str, str]]:
    """github-new-star fires on anyone's star: the GitHub logins of the project's other
    accounts (login, whose external id), for the page's "Star as" choice."""
    if trigger.component_key != "github-new-star" or trigger.account is None:
        return []
    found: dict[str, str] = {}
    for pk, login, whose in logins.get((trigger.user.project_id, trigger.user.environment), []):
        if pk != trigger.account.pk and len(found) < STARGAZERS_MAX:
            found.setdefault(login, whose)
    return sorted(found.items())


def _stargazers(trigger: DeployedTrigger) -> list[tuple[str, str]]:
    return _stargazers_of(trigger, _github_logins([trigger]))


@require_POST
@superuser_required
def trigger_emit(request, pk: int):
    """Emit an event now: the JSON given, a star by the login chosen (github-new-star), or
    a sample from the account's profile."""
    trigger = get_object_or_404(DeployedTrigger.objects.select_related("user", "account"), pk=pk)
    text = request.POST.get("event", "").strip()
    star_as = request.POST.get("star_as", "").strip()
    if star_as and star_as not in dict(_stargazers(trigger)):
        messages.error(
            request, f"{trigger.trigger_id}: no GitHub account here has the login {star_as[:60]!r}."
        )
        return _back("triggers")
    try:
        if star_as and not text:
            event = components.star_event(
                trigger.account.profile or {}, trigger.configured_props or {}, star_as
            )
        else:
            event = json.loads(text) if text else None
        emitted = triggers.emit(trigger, event, apply=request.POST.get("apply") == "on")
    except ValueError as exc:  # json.loads
        messages.error(request, f"{trigger.trigger_id}: the event is not valid JSON: {exc}")
        return _back("triggers")
    except triggers.TriggerError as exc:
        messages.error(request, f"{trigger.trigger_id}: {exc}")
        return _back("triggers")
    if emitted is None:
        messages.error(request, f"{trigger.trigger_id} is paused: it emits nothing.")
        return _back("triggers")
    messages.success(
        request,
        f"{trigger.trigger_id} emitted {emitted.event_id}: "
        f"{len(emitted.deliveries)} delivery(ies) queued.",
    )
    return webhooks.send_after_response(_back("triggers"), emitted.deliveries)


@require_POST
@superuser_required
def trigger_toggle(request, pk: int):
    trigger = get_object_or_404(DeployedTrigger, pk=pk)
    trigger.active = not trigger.active
    trigger.save(update_fields=["active"])
    messages.success(request, f"{trigger.trigger_id} {'active' if trigger.active else 'paused'}.")
    return _back("triggers")


@require_POST
@superuser_required
def trigger_delete(request, pk: int):
    trigger = get_object_or_404(DeployedTrigger, pk=pk)
    triggers.remove(trigger)
    messages.success(request, f"Deleted {trigger.trigger_id}; its pending deliveries stop.")
    return _back("triggers")
