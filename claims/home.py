"""The member's home page: what they have earned, what is under way, and "What needs you".

`member_home(member)` reads it in a fixed number of queries whatever the number of
claims and accounts: the claims rows (claims/selectors.py), the completed claims, the
member's accounts and their email state, each once.
"""

from dataclasses import dataclass, field

from claims import selectors
from claims.catalogue import apps_to_fix
from claims.models import Completion
from connections.models import App, ConnectedAccount
from users.selectors import EmailState, member_email_state

# A stop that leaves nothing for the member to do about the claim now.
_NOTHING_TO_DO = ("used_up", "halted", "closed")


@dataclass
class Reconnect:
    account: ConnectedAccount
    claims: list = field(default_factory=list)  # the claims waiting on it


@dataclass
class Action:
    """One claim the member can move on now: connect an app, or check it again."""

    kind: str  # "connect" or "check"
    claim: object
    app: App | None = None
    state: str = ""  # the claim's state for the member (claims/selectors.py ClaimRow)


@dataclass
class Home:
    email: EmailState
    address: str
    earned: list[Completion]
    in_progress: list
    reconnect: list[Reconnect]
    actions: list[Action]

    @property
    def needs_address(self) -> bool:
        return not self.address

    @property
    def nothing_needed(self) -> bool:
        return (
            self.email.verified and bool(self.address) and not self.reconnect and not self.actions
        )


def _actions(row, accounts, *, email_verified: bool, address: str) -> list[Action]:
    """What the member can do now for one claim's row."""
    if row.state in (Completion.State.COMPLETED, Completion.State.REVOKED) or row.in_progress:
        return []
    if row.stop is not None and row.stop.kind in _NOTHING_TO_DO:
        return []
    if not email_verified:
        return []  # connecting needs a confirmed email: that item comes first
    fix = apps_to_fix(row.claim, accounts)
    if fix.connect:
        return [Action("connect", row.claim, app) for app in fix.connect]
    if fix or not address or row.stop is not None:
        return []  # reconnect (listed once per account), the site, or the address first
    if row.state in ("new", Completion.State.FAILED) or (
        row.state == Completion.State.INELIGIBLE and not row.watching
    ):
        return [Action("check", row.claim, state=row.state)]
    return []


def member_home(member) -> Home:
    rows = selectors.claims_for_member(member=member)
    accounts = list(ConnectedAccount.objects.filter(member=member).select_related("app"))
    email = member_email_state(member=member)
    earned = list(
        Completion.objects.completed()
        .filter(member=member)
        .select_related("claim")
        .order_by("-completed_at", "-pk")
    )
    reconnect = {account.pk: Reconnect(account) for account in accounts if account.needs_reconnect}
    actions = []
    for row in rows:
        if row.state in (Completion.State.COMPLETED, Completion.State.REVOKED):
            continue
        if not (row.stop is not None and row.stop.kind in _NOTHING_TO_DO):
            for account in apps_to_fix(row.claim, accounts).reconnect:
                if account.pk in reconnect:
                    reconnect[account.pk].claims.append(row.claim)
        actions += _actions(row, accounts, email_verified=email.verified, address=member.address)
    return Home(
        email=email,
        address=member.address or "",
        earned=earned,
        in_progress=[row for row in rows if row.in_progress],
        reconnect=list(reconnect.values()),
        actions=actions,
    )
