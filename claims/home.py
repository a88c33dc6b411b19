"""The member's home page: what they have earned, what is under way, and "What needs you".

`member_home(member)` reads it in a fixed number of queries whatever the number of
claims and accounts: the member's accounts and their email state, each once and shared
with the claims rows (claims/selectors.py), and the completed claims.

A member whose address is proven by Sign in with BitBadges needs no email to connect
apps and complete claims (users.selectors.member_identity_confirmed): nothing asks them
to confirm one; the page says once, quietly, that an email is optional and what it is
for (the emails notifications/ sends). The broken accounts
come with the warning claims/needs.py words (the email's words too), and opening the page
re-reads the accounts from Pipedream in the background when they are stale
(connections/freshness.py): `refreshing` then says the page should ask again.

That asking is `needs_you_poll`, the answer to htmx's `GET /?fresh=1` (config/views.py):
no content (204: htmx swaps nothing) while the re-read runs, then the "What needs you"
section alone, once, with 286 (htmx stops polling). It renders no flash message, so a
poll never uses up one that a later page load should show, and never queues a re-read.
"""

from dataclasses import dataclass, field

from django.http import HttpResponse
from django.template.loader import render_to_string

from claims import needs, selectors
from claims.models import Completion
from connections import freshness
from connections.models import App, ConnectedAccount
from users.selectors import EmailState, member_email_state
from users.siwbb.config import siwbb_enabled

# A stop that leaves nothing for the member to do about the claim now.
_NOTHING_TO_DO = ("used_up", "halted", "closed")


@dataclass
class Reconnect:
    account: ConnectedAccount
    claims: list = field(default_factory=list)  # the claims waiting on it
    need: needs.BrokenNeed | None = None  # the warning, when a claim waits on it


@dataclass
class Action:
    """One claim the member can move on now: connect an app (one of `apps` is enough when
    there are several), or check it (start it, or check again)."""

    kind: str  # "connect" or "check"
    claim: object
    apps: list[App] = field(default_factory=list)
    state: str = ""  # the claim's state for the member (ClaimRow.state)


@dataclass
class Home:
    email: EmailState
    address: str
    earned: list[Completion]
    in_progress: list
    reconnect: list[Reconnect]
    actions: list[Action]
    refreshing: bool = False  # a re-read of the accounts from Pipedream is under way
    address_proven: bool = False  # by Sign in with BitBadges
    # The claims that take only a proven address, the member's not being one: one item
    # (connecting BitBadges once proves it for all of them).
    prove: list = field(default_factory=list)
    siwbb_on: bool = False  # Sign in with BitBadges is configured (users.siwbb.config)

    @property
    def identity_confirmed(self) -> bool:
        """A confirmed email or a proven address (users.selectors.member_identity_confirmed,
        from what the page read already): connecting and claims wait for one of them."""
        return self.address_proven or self.email.verified

    @property
    def email_optional(self) -> bool:
        """Proven without a confirmed email: the quiet note that an email is optional."""
        return self.address_proven and not self.email.verified

    @property
    def needs_address(self) -> bool:
        return not self.address

    @property
    def nothing_needed(self) -> bool:
        return (
            self.identity_confirmed
            and bool(self.address)
            and not self.reconnect
            and not self.actions
            and not self.prove
        )


def _actions(row, *, identity_confirmed: bool) -> list[Action]:
    """What the member can do now for one claim's row (claims/selectors.py says what each
    requirement's fix is, and whether a check could give a new answer)."""
    if not identity_confirmed:
        return []  # connecting needs a confirmed email (or a proven address): first item
    connect = [r for r in row.fixes if r.fix == selectors.FIX_CONNECT and r.app is not None]
    actions = [Action("connect", row.claim, [r.app]) for r in connect if not r.one_of]
    either = [r.app for r in connect if r.one_of]
    if either:
        actions.append(Action("connect", row.claim, either))
    if not actions and row.can_check and not row.rechecks_by_itself:
        actions.append(Action("check", row.claim, state=row.state))
    return actions


# The query parameter of the home page's poll (GET /?fresh=1), as /accounts/ has.
POLL_PARAM = freshness.POLL_PARAM
HOME_TEMPLATE = "home.html"


def member_home(member, *, refresh: bool = True) -> Home:
    """The home page's parts; `refresh=False` (the poll): never queue a re-read."""
    accounts = selectors.member_accounts(member)
    email = member_email_state(member=member)
    # member_identity_confirmed, from the email state just read (no second query).
    identity = member.address_proven or email.verified
    rows = selectors.claims_for_member(member=member, accounts=accounts, verified=identity)
    earned = list(
        Completion.objects.completed()
        .filter(member=member)
        .select_related("claim")
        .order_by("-completed_at", "-pk")
    )
    refreshing = refresh and freshness.refresh_if_stale(member, accounts.connected)
    # Every broken account; those a claim waits on with the warning (claims/needs.py).
    waiting = {
        need.account.pk: need for need in needs.broken_needed(member, accounts=accounts, rows=rows)
    }
    reconnect = []
    for account in accounts.connected:
        if account.needs_reconnect:
            need = waiting.get(account.pk)
            reconnect.append(Reconnect(account, list(need.claims) if need else [], need))
    actions, prove = [], []
    for row in rows:
        if row.in_progress or (row.stop is not None and row.stop.kind in _NOTHING_TO_DO):
            continue  # under way (its check has passed), or nothing the member can change
        actions += _actions(row, identity_confirmed=identity)
        if identity and any(r.fix == selectors.FIX_PROVE for r in row.fixes):
            prove.append(row.claim)
    return Home(
        email=email,
        address=member.address or "",
        earned=earned,
        in_progress=[row for row in rows if row.in_progress],
        reconnect=reconnect,
        actions=actions,
        refreshing=refreshing,
        address_proven=member.address_proven,
        prove=prove,
        siwbb_on=siwbb_enabled(),
    )


def needs_you_poll(request) -> HttpResponse:
    """The home page's poll while a re-read of the member's accounts runs (see the
    module's docstring): 204 until it is done, then the section with 286."""
    if freshness.refreshing(request.user):
        return HttpResponse(status=204)
    home = member_home(request.user, refresh=False)
    html = render_to_string(f"{HOME_TEMPLATE}#needs_you", {"home": home}, request=request)
    return HttpResponse(html, status=286)
