"""What a delivery woke us for: the deployed trigger's events, and whom they concern.

The events are read from the trigger's events list (Pipedream's published
`{e, k, ts, id}` shape), never from the delivery's body. A deployment on a member's
account asks for a check of that member. The claim's one deployment on the site's
account (a shared resource: anyone's star of one repository) asks for a check of each
member whose account of the claim's app bears the name the event gives (github-new-star's
stargazer login); an event that names nobody known checks nobody. Whose name an account
bears is Pipedream's account `name`, unconfirmed as the GitHub login (docs/fidelity.md),
so a member it misses is caught up by the periodic re-check, never completed wrongly:
every check reads the member's state upstream.
"""

import logging

from django.conf import settings
from django.db.models import Q

from claims.audit import Actor
from claims.engine import check_requests
from claims.models import Claim, Completion, TriggerDelivery, TriggerDeployment
from connections import pipedream
from connections.models import ConnectedAccount
from core import ratelimit

logger = logging.getLogger(__name__)

# Events asked for per read (Pipedream's default is 20; its maximum is not documented).
EVENTS_PER_READ = 100
GAP_NOTE = (
    "The events list was full of unread events: older ones may not have been read "
    "(members they name are caught up by the claim's re-check). "
)
SUBJECTS_MAX = EVENTS_PER_READ  # names looked up per wake-up (the newest events' first)


def event_subject(event: object) -> str:
    """Whom an emitted event names, as the component emits it (components' sources):
    github-new-star's `sender.login` (webhook mode) or `login` (polling mode); a Discord
    member's `userId`; a Slack `team_join`'s `user.id`. "" when it names nobody known."""
    if not isinstance(event, dict):
        return ""
    sender = event.get("sender")
    if isinstance(sender, dict) and isinstance(sender.get("login"), str):
        return sender["login"]
    user = event.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        return user["id"]
    for field in ("login", "userId"):
        if isinstance(event.get(field), str):
            return str(event[field])
    return ""


def _new_events(deployment: TriggerDeployment) -> tuple[list[dict] | None, bool]:
    """The events of the deployed trigger newer than those already read, taken (so a
    concurrent task does not read them again), and whether some may have been missed
    (every event listed was unread: a burst longer than one read); None when Pipedream
    cannot list them."""
    try:
        events = pipedream.get_client().list_trigger_events(
            deployment.pipedream_id,
            external_user_id=deployment.external_user_id(),
            n=EVENTS_PER_READ,
        )
    except pipedream.PipedreamError as exc:
        logger.warning("Events of trigger %s not listed: %s", deployment.pipedream_id, exc)
        return None, False
    fresh = [
        event
        for event in events
        if isinstance(event.get("ts"), int) and event["ts"] > deployment.events_cursor
    ]
    if not fresh:
        return [], False
    gap = len(fresh) >= EVENTS_PER_READ
    newest = max(event["ts"] for event in fresh)
    taken = TriggerDeployment.objects.filter(pk=deployment.pk, events_cursor__lt=newest).update(
        events_cursor=newest
    )
    if not taken:
        return [], False
    if gap:
        logger.warning("Trigger %s: a burst past one read of events", deployment.pipedream_id)
    return sorted(fresh, key=lambda event: event["ts"]), gap


def members_named(claim: Claim, events: list[dict]) -> list:
    """The members whose account of the claim's app bears a name an event gives
    (compared without case, as GitHub logins are), who have not completed the claim."""
    names: list[str] = []
    for event in reversed(events):
        name = event_subject(event.get("e")).strip()
        if name and name.lower() not in {n.lower() for n in names}:
            names.append(name[:255])
        if len(names) == SUBJECTS_MAX:
            break
    if not names or claim.trigger_app_id is None:
        return []
    named = Q()
    for name in names:
        named |= Q(name__iexact=name)
    accounts = (
        ConnectedAccount.objects.filter(named, app_id=claim.trigger_app_id)
        .exclude(
            member_id__in=Completion.objects.completed().filter(claim=claim).values("member_id")
        )
        .select_related("member")
        .order_by("member_id")
    )
    members = {account.member_id: account.member for account in accounts}
    return list(members.values())


def _describe(events: list[dict]) -> str:
    return ", ".join(
        f"{str(event.get('id'))[:60]} ({event_subject(event.get('e'))[:60] or 'nobody named'})"
        for event in events[-5:]
    )


def event_process(delivery_id: int) -> bool:
    """A delivery woke us: read the trigger's events list (never the delivery's body), and
    when it holds events not read before, ask for a check of the member(s) they concern,
    whose state the check reads upstream. True when a check was asked for."""
    delivery = (
        TriggerDelivery.objects.select_related("deployment__claim", "deployment__member")
        .filter(
            pk=delivery_id,
            outcome__in=(TriggerDelivery.Outcome.ACCEPTED, TriggerDelivery.Outcome.THROTTLED),
        )
        .first()
    )
    if delivery is None or delivery.deployment is None:
        return False
    deployment = delivery.deployment
    if deployment.status != TriggerDeployment.Status.ACTIVE:
        return False
    if delivery.outcome == TriggerDelivery.Outcome.THROTTLED:
        # The wake-up after a window: it counts against the window it runs in.
        count, seconds = settings.TRIGGER_CHECK_RATE_LIMIT
        if ratelimit.hit("trigger-check", deployment.pk, limit=count, window=seconds):
            return False
    events, gap = _new_events(deployment)
    if events == []:
        note = "No event in the trigger's events list that was not read before: no check."
        TriggerDelivery.objects.filter(pk=delivery.pk).update(detail=note)
        return False
    claim = deployment.claim
    if deployment.on_site_account:
        return _site_events(delivery, claim, events, gap)
    if events is None:  # Pipedream could not list them: the check reads upstream anyway
        event_id, note = delivery.event_id, "The events list could not be read; checked anyway."
    else:
        event_id = str(events[-1].get("id") or "")[:200]
        note = f"Events read: {_describe(events)}. A check of the member was asked for."
    TriggerDelivery.objects.filter(pk=delivery.pk).update(detail=note[:1000])
    if deployment.member is None:
        return False
    check_requests.completion_request(
        claim=claim, member=deployment.member, actor=Actor.trigger(claim.trigger, event_id)
    )
    return True


def _site_events(
    delivery: TriggerDelivery, claim: Claim, events: list[dict] | None, gap: bool
) -> bool:
    """The claim's deployment on the site's account: check only the members named."""
    if events is None:
        # Whom they concern is unknown: nobody is checked, and the events stay unread
        # (the cursor did not move), so the next wake-up reads them.
        note = "The events list could not be read: nobody checked until the next delivery."
        TriggerDelivery.objects.filter(pk=delivery.pk).update(detail=note)
        return False
    members = members_named(claim, events)
    event_id = str(events[-1].get("id") or "")[:200]
    for member in members:
        check_requests.completion_request(
            claim=claim, member=member, actor=Actor.trigger(claim.trigger, event_id)
        )
    asked = (
        f"A check was asked for {len(members)} member(s) whose account bears a name given."
        if members
        else "No member's account bears a name given (or they completed it): nobody checked."
    )
    note = f"{GAP_NOTE if gap else ''}Events read: {_describe(events)}. {asked}"
    TriggerDelivery.objects.filter(pk=delivery.pk).update(detail=note[:1000])
    return bool(members)
