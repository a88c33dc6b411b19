"""Reads for the claims pages, always scoped to one member and in a fixed number of queries.

Each row says what the member can do about it: every unmet requirement carries its fix
(Connect, Reconnect, the address form), a "not yet" says what would change the answer
and when it is checked again by itself, and Check again is offered only when a check
could give a new answer. A completed claim shows what it was earned with, from the
evidence kept when it was earned: a later disconnect changes nothing there.
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import formats, timezone
from django.utils.translation import gettext, ngettext

from claims import life, rules, wording
from claims.models import Claim, Completion, TriggerDeployment
from claims.models import Requirement as RequirementModel
from connections.models import App, ConnectedAccount
from users.selectors import member_identity_confirmed
from users.siwbb.config import siwbb_enabled

State = Completion.State

# What a requirement row asks of the member (the button or link in the row).
FIX_CONNECT = "connect"
FIX_RECONNECT = "reconnect"
FIX_ADDRESS = "address"
FIX_EMAIL = "email"
FIX_PROVE = "prove"  # connect BitBadges: the claim takes only a proven address
FIX_UNAVAILABLE = "unavailable"  # nothing the member can do: an administrator must
MEMBER_FIXES = (FIX_EMAIL, FIX_CONNECT, FIX_RECONNECT, FIX_ADDRESS, FIX_PROVE)

# The groups claims are listed in: what the member can do now comes first.
GROUP_ACT = 0  # connect, reconnect, the address, or a check only the member starts
GROUP_WORKING = 1  # under way
GROUP_WAITING = 2  # waits on something else: a re-check, an event, the claim reopening
GROUP_EARNED = 3
GROUP_ENDED = 4  # closed, used up, taken back


@dataclass
class Requirement:
    label: str  # the requirement as members read it: an instruction
    met: bool | None  # None: not checked yet
    detail: str = ""
    value: str = ""  # the value last seen (kept for the admin's eyes; not shown to members)
    one_of: bool = False  # one of the claim's "any" requirements: one of them is enough
    fact: str = ""  # a fact about the member from the last check: "you have 3"
    link: str = ""  # where the member does it, when the operator gave a link
    fix: str = ""  # FIX_*: the button or link the row carries
    app: App | None = None  # the app to connect or reconnect
    account_id: int | None = None  # the account to reconnect


@dataclass
class ClaimRow:
    claim: Claim
    completion: Completion | None
    requirements: list[Requirement] = field(default_factory=list)
    watching: bool = False  # an active trigger deployment will tell us when they qualify
    stop: life.Stop | None = None  # why the claim takes no new deliveries now
    earned_with: str = ""  # "with your GitHub account octo-pro", for a completed claim
    now: datetime.datetime | None = None

    @property
    def state(self) -> str:
        return self.completion.state if self.completion else "new"

    @property
    def in_progress(self) -> bool:
        """Under way; not a completion that waits for the claim to reopen (claims/life.py)."""
        if self.stop is not None and self.state == State.WAITING:
            return False
        return bool(self.completion and self.completion.in_progress)

    @property
    def earned(self) -> bool:
        return self.state == State.COMPLETED

    @property
    def fixes(self) -> list[Requirement]:
        """The requirements whose fix is the member's to make (their buttons)."""
        if self.state in (State.COMPLETED, State.REVOKED):
            return []
        return [requirement for requirement in self.requirements if requirement.fix in MEMBER_FIXES]

    @property
    def blocked(self) -> bool:
        """A requirement waits on an account or the address (or an app nobody can connect):
        a check would only say so again."""
        return any(requirement.fix for requirement in self.requirements)

    @property
    def settled_by_settings(self) -> bool:
        """Failed on the claim's own settings (wording.SETTINGS_FAILURES): the member's
        check would only fail the same way until an administrator changes them."""
        return (
            self.state == State.FAILED
            and self.completion is not None
            and self.completion.reason in wording.SETTINGS_FAILURES
        )

    @property
    def can_check(self) -> bool:
        """Check again could give a new answer: new with everything in place, not yet,
        or failed on something a new try can change; never while under way, settled,
        blocked, stopped, or failed on the claim's settings."""
        if self.state not in ("new", State.INELIGIBLE, State.FAILED):
            return False
        return self.stop is None and not self.blocked and not self.settled_by_settings

    @property
    def rechecks_by_itself(self) -> bool:
        """A not-yet answer is asked again without the member: a trigger that watches for
        the event, or a re-check the engine has scheduled (completion.recheck_at). A claim's
        interval alone promises nothing: a held row, or one staff changed, has none."""
        if self.state != State.INELIGIBLE:
            return False
        return bool((self.watching and self.claim.trigger_event_label) or self._scheduled)

    @property
    def _scheduled(self):
        """The engine's next re-check of a not-yet answer, when one is due (rechecks_due
        takes only rows with a recheck_at, of claims that still have an interval)."""
        at = self.completion.recheck_at if self.completion else None
        return at if at and self.claim.recheck_interval else None

    @property
    def recheck(self) -> str:
        """When a not-yet answer is asked again by itself, as a sentence ("" otherwise)."""
        if self.state != State.INELIGIBLE or self.blocked or self.stop is not None:
            return ""
        parts = []
        if self.watching and self.claim.trigger_event_label:
            # Translators: event is the operator's words, e.g. "you star the repository".
            parts.append(
                gettext("We'll complete this as soon as %(event)s.")
                % {"event": self.claim.trigger_event_label}
            )
        at, interval = self._scheduled, self.claim.recheck_interval
        now = self.now or timezone.now()
        if at and interval and at > now:
            when = formats.date_format(timezone.localtime(at), "j M, H:i")
            parts.append(_every(interval, when))
        elif at:
            parts.append(gettext("We check again by ourselves in a moment."))
        if not parts:
            return gettext(
                "Nothing checks it again by itself: press Check again once you have done it."
            )
        return " ".join(parts)

    @property
    def group(self) -> int:
        state = self.state
        if state == State.COMPLETED:
            return GROUP_EARNED
        if state == State.REVOKED or (
            self.stop is not None and self.stop.kind in ("closed", "used_up")
        ):
            return GROUP_ENDED
        if self.fixes:
            return GROUP_ACT
        if self.in_progress:
            return GROUP_WORKING
        if self.can_check and not self.rechecks_by_itself:
            return GROUP_ACT
        return GROUP_WAITING

    @property
    def reason(self) -> str:
        """The completion's reason, unless a requirement below or the claim's stop already
        says it (or the claim is earned: what it was earned with says it)."""
        if not self.completion or self.earned:
            return ""
        said = {requirement.detail for requirement in self.requirements}
        if self.stop is not None:
            said.add(self.stop.sentence)
        if self.state == State.INELIGIBLE and any(
            requirement.met is False for requirement in self.requirements
        ):
            return ""  # the unmet rows say what is missing, in the member's words
        if self.completion.reason in said:
            return ""
        if any(r.fix == FIX_EMAIL for r in self.requirements) and _asks_for_email(
            self.completion.reason
        ):
            return ""  # the email row says it, with what the member can do today
        if self.completion.reason in _ASKS_FOR_PROOF and any(
            r.fix == FIX_PROVE for r in self.requirements
        ):
            return ""  # the prove row says it (or that it cannot be done right now)
        # Stored in English: a fixed sentence (or a stop's) is shown translated.
        return life.sentence_words(self.completion.reason)


# The re-check promise for each unit of the interval (a whole sentence each, for the
# plural); %(when)s is the next check's date and time, %(count)s the number of units.
_EVERY = {
    "day": lambda count: ngettext(
        "We check again by ourselves on %(when)s, then every day or less often while "
        "nothing changes.",
        "We check again by ourselves on %(when)s, then every %(count)s days or less often "
        "while nothing changes.",
        count,
    ),
    "hour": lambda count: ngettext(
        "We check again by ourselves on %(when)s, then every hour or less often while "
        "nothing changes.",
        "We check again by ourselves on %(when)s, then every %(count)s hours or less often "
        "while nothing changes.",
        count,
    ),
    "minute": lambda count: ngettext(
        "We check again by ourselves on %(when)s, then every minute or less often while "
        "nothing changes.",
        "We check again by ourselves on %(when)s, then every %(count)s minutes or less "
        "often while nothing changes.",
        count,
    ),
}


def _every(interval: datetime.timedelta, when: str) -> str:
    """The re-check sentence: from `when` on, every day (6 hours, 2 days...)."""
    unit, count = _duration(interval)
    return _EVERY[unit](count) % {"when": when, "count": count}


def _duration(interval: datetime.timedelta) -> tuple[str, int]:
    """A re-check interval as (unit, count): ("day", 1), ("hour", 6), ("day", 2)."""
    seconds = int(interval.total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            return unit, seconds // size
    return "minute", max(1, round(seconds / 60))


def _check_evidence(requirement, checks: int, completion) -> dict | None:
    """The last evidence the completion recorded for the requirement's check. Evidence
    from before requirements ("criterion") stands for a claim's only check."""
    seen = None
    for item in (completion.evidence if completion else []) or []:
        if not isinstance(item, dict):
            continue
        rule = item.get("rule")
        if rule == requirement.rule_key or (rule == "criterion" and checks == 1):
            seen = item
    return seen


@dataclass(frozen=True)
class Accounts:
    """The member's accounts, read once (`member_accounts`): the rows with their apps
    (what a fix and the home page need), and the rules' facts of them."""

    connected: list[ConnectedAccount]
    facts: list[rules.AccountFact]


def app_fix(app: App, accounts: Accounts) -> tuple[str, int | None]:
    """What the member must do about `app` before its requirements can be checked: ""
    (a usable account is connected), FIX_CONNECT, FIX_RECONNECT (and which account: a
    dead one first) or FIX_UNAVAILABLE. The one rule for /claims/, /c/, the claim page
    and home."""
    mine = [account for account in accounts.connected if account.app_id == app.pk]
    if any(account.usable for account in mine):
        return "", None
    if mine:
        worst = next((account for account in mine if account.dead), mine[0])
        return FIX_RECONNECT, worst.pk
    return (FIX_CONNECT if app.enabled else FIX_UNAVAILABLE), None


def _requirements(
    claim: Claim, accounts: Accounts, completion, member, now, verified: bool
) -> list[Requirement]:
    """What the member can see without any upstream call: their accounts (as facts) and
    the last evidence recorded for each check, one row per requirement in order.
    `verified`: the member's identity is confirmed (users.selectors.
    member_identity_confirmed: a confirmed email or a proven address)."""
    rows = []
    if not verified:  # nothing is delivered before the member confirms one or the other
        rows.append(
            Requirement(
                gettext("Confirm your email address"), False, _email_detail(member), fix=FIX_EMAIL
            )
        )
    requirements = list(claim.requirements.all())  # prefetched, with their apps
    checks = sum(1 for requirement in requirements if requirement.runs_check)
    for requirement in requirements:
        app = requirement.app
        one_of = requirement.group == RequirementModel.Group.ANY
        results = rules.app_rules([(app.slug, app.name)], accounts.facts, now=now)
        failed = next((result for result in results if not result.passed), None)
        fix, account_id = app_fix(app, accounts)
        row = Requirement(
            wording.requirement_sentence(requirement),
            True,
            one_of=one_of,
            link=wording.requirement_link(requirement),
            app=app,
        )
        if failed is not None:
            row.met, row.fix, row.account_id = False, fix, account_id
            row.detail = _fix_sentence(fix, app, failed.detail)
        elif requirement.runs_check:
            seen = _check_evidence(requirement, checks, completion)
            if seen is None or seen.get("value") == "(not checked)":
                row.met = None
                row.detail = gettext("Not checked yet.")
            else:
                row.met = bool(seen.get("passed"))
                row.value = str(seen.get("value", ""))
                row.fact = wording.requirement_fact(requirement, seen)
        rows.append(row)
    either = [row for row in rows if row.one_of]
    if any(row.fix == "" for row in either):
        # One of the "any" apps is in place: the others need no connecting.
        for row in either:
            if row.fix:
                row.met, row.fix, row.account_id, row.detail = None, "", None, ""
    if needs_proof(claim, member):
        # A typed address will not do: connecting BitBadges sets the proven one. Without
        # Sign in with BitBadges nothing can prove it: said as home and the claim page do.
        if siwbb_enabled():
            sentence = wording.PROVE_ADDRESS if member.address else wording.PROVE_NEW_ADDRESS
            detail = gettext(sentence)  # as the engine words its reason (said once)
        else:
            detail = gettext(
                "Sign in with BitBadges is not available on this site right now: this claim "
                "waits until it is."
            )
        rows.append(
            Requirement(
                gettext("Prove this BitBadges address is yours"),
                False,
                detail,
                member.address,
                fix=FIX_PROVE,
            )
        )
        return rows
    rows.append(
        Requirement(
            gettext("Add your BitBadges address"),
            bool(member.address),
            "" if member.address else gettext("The form is above, under “Where your badges go”."),
            member.address,
            fix="" if member.address else FIX_ADDRESS,
        )
    )
    return rows


def _email_detail(member) -> str:
    """What the "Confirm your email address" row says to a member with neither a confirmed
    email nor a proven address: "we sent you a link" only when they have an email address
    (User.email, kept as the primary one), and, while Sign in with BitBadges is on, that
    connecting BitBadges (which proves the address) does as well."""
    bitbadges = siwbb_enabled()
    if member.email and bitbadges:
        return gettext(
            "We sent you a link; you can send it again from your email settings. Or connect "
            "BitBadges on your profile instead: an address it proves is enough."
        )
    if member.email:
        return gettext("We sent you a link; you can send it again from your email settings.")
    if bitbadges:
        return gettext(
            "Connect BitBadges on your profile to prove your address, or add an email "
            "address in your email settings and confirm it."
        )
    return gettext("Add an email address in your email settings and confirm it.")


# The engine's reasons for a member with neither a confirmed email nor a proven address
# (claims/engine/evaluation.py): the "Confirm your email address" row says it in today's
# words, so the row's reason does not say it again.
_ASKS_FOR_EMAIL = (
    wording.ADD_EMAIL,
    wording.ADD_EMAIL_OR_PROVE,
    wording.CONFIRM_EMAIL,
    wording.CONFIRM_EMAIL_TO,
    wording.CONFIRM_EMAIL_OR_PROVE,
    wording.CONFIRM_EMAIL_OR_PROVE_TO,
)


_ASKS_FOR_PROOF = (wording.PROVE_ADDRESS, wording.PROVE_NEW_ADDRESS)


def _asks_for_email(reason: str) -> bool:
    for sentence in _ASKS_FOR_EMAIL:
        head, _, tail = sentence.partition("%(email)s")
        if reason == sentence or (tail and reason.startswith(head) and reason.endswith(tail)):
            return True
    return False


def needs_proof(claim: Claim, member) -> bool:
    """The claim takes only a proven address (Claim.require_proven_address) and the
    member's is not."""
    return bool(getattr(claim, "require_proven_address", False)) and not member.address_proven


def _fix_sentence(fix: str, app: App, detail: str) -> str:
    if fix == FIX_UNAVAILABLE:
        return gettext(
            "%(app)s cannot be connected right now: an administrator has to make it available."
        ) % {"app": app.name}
    if fix == FIX_RECONNECT:
        return gettext("Your %(app)s account stopped working: reconnect it.") % {"app": app.name}
    return detail if fix == "" else ""


def _earned(claim: Claim, completion: Completion) -> tuple[list[Requirement], str]:
    """What a completed claim was earned with, from the evidence kept when it was earned:
    the requirements met then (ticks only) and the accounts, never today's accounts."""
    evidence = [item for item in (completion.evidence or []) if isinstance(item, dict)]
    passed = {str(item.get("rule")) for item in evidence if item.get("passed")}
    requirements = list(claim.requirements.all())
    checks = sum(1 for requirement in requirements if requirement.runs_check)
    rows = []
    apps: dict[str, str] = {}
    for requirement in requirements:
        app = requirement.app
        if requirement.runs_check:
            seen = _check_evidence(requirement, checks, completion)
            if not (seen and seen.get("passed")):
                continue
            fact = wording.requirement_fact(requirement, seen)
        elif f"app:{app.slug}" in passed:
            fact = ""
        else:
            continue
        apps.setdefault(app.slug, app.name)
        rows.append(
            Requirement(
                wording.requirement_sentence(requirement),
                True,
                fact=fact,
                link=wording.requirement_link(requirement),
                app=app,
            )
        )
    slug, _, identity = completion.upstream_identity.partition(":")
    named = [
        gettext("your %(app)s account %(identity)s") % {"app": name, "identity": identity}
        if slug == app_slug and identity
        else gettext("your %(app)s account") % {"app": name}
        for app_slug, name in apps.items()
    ]
    with_ = ""
    if len(named) == 1:
        # Translators: follows "Earned 6 Dec 2026": "with your GitHub account octo".
        with_ = gettext("with %(account)s") % {"account": named[0]}
    elif named:
        # Translators: "with your GitHub account octo, your Discord account and your
        # Slack account"; accounts is a list separated by commas.
        with_ = gettext("with %(accounts)s and %(last)s") % {
            "accounts": ", ".join(named[:-1]),
            "last": named[-1],
        }
    return rows, with_


def _row(
    claim, completion, accounts: Accounts, member, now, watching: bool, verified: bool
) -> ClaimRow:
    row = ClaimRow(
        claim=claim,
        completion=completion,
        watching=watching,
        stop=life.stop_for(claim, now),
        now=now,
    )
    if completion is not None and completion.state == State.COMPLETED:
        row.requirements, row.earned_with = _earned(claim, completion)
    elif completion is not None and completion.state == State.REVOKED:
        row.requirements = []  # taken back: nothing for the member to fix
    else:
        row.requirements = _requirements(claim, accounts, completion, member, now, verified)
    return row


def claim_row(
    *,
    claim: Claim,
    member,
    completion,
    watching: bool,
    verified: bool,
    now,
    accounts: Accounts | None = None,
) -> ClaimRow:
    """One claim's row for the member (its /c/<slug>/ page): one query, the accounts,
    unless the caller read them already (`member_accounts`).
    `claim` has its requirements prefetched with their apps."""
    accounts = accounts or member_accounts(member)
    return _row(claim, completion, accounts, member, now, watching, verified)


def member_accounts(member) -> Accounts:
    """The member's accounts with their apps, and the rules' facts of them (the same facts
    the engine uses), in one query."""
    connected = list(ConnectedAccount.objects.filter(member=member).select_related("app"))
    return Accounts(connected, rules.account_facts(connected))


def rows_for(
    claims: list[Claim],
    *,
    member,
    now,
    accounts: Accounts | None = None,
    verified: bool | None = None,
) -> list[ClaimRow]:
    """The member's rows of `claims` (requirements prefetched with their apps; an
    annotation `watched` where the caller has one), in their order, in three queries
    whatever their number: the completions, the accounts, the email state (the last two
    unless the caller read them already). `verified`: whether the member's identity is
    confirmed (a confirmed email or a proven address)."""
    completions = {
        completion.claim_id: completion
        for completion in Completion.objects.filter(
            member=member, claim_id__in=[claim.pk for claim in claims]
        )
    }
    # The member's accounts and identity: once for all the claims.
    accounts = accounts or member_accounts(member)
    if verified is None:
        verified = member_identity_confirmed(member=member)
    return [
        _row(
            claim,
            completions.get(claim.pk),
            accounts,
            member,
            now,
            bool(getattr(claim, "watched", False)),
            verified,
        )
        for claim in claims
    ]


def claims_for_member(
    *, member, accounts: Accounts | None = None, verified: bool | None = None
) -> list[ClaimRow]:
    """The enabled claims with the member's progress, what the member can do now first:
    fix something or check, then under way, then waiting, earned, ended; by name within.
    `accounts` and `verified`: as `rows_for`."""
    enabled = (
        Claim.objects.enabled()
        .prefetch_related(
            Prefetch("requirements", queryset=RequirementModel.objects.select_related("app"))
        )
        # Whether an active trigger deployment watches this claim for the member.
        .annotate(
            watched=Exists(
                TriggerDeployment.objects.filter(
                    Q(member=member) | Q(member__isnull=True),
                    claim=OuterRef("pk"),
                    status=TriggerDeployment.Status.ACTIVE,
                )
            )
        )
        .order_by("name", "pk")
    )
    rows = rows_for(
        list(enabled), member=member, now=timezone.now(), accounts=accounts, verified=verified
    )
    return sorted(rows, key=lambda row: row.group)  # stable: by name within a group


def claim_for_member(*, slug: str) -> Claim:
    """An enabled claim by slug; DoesNotExist otherwise (views answer 404)."""
    return Claim.objects.enabled().get(slug=slug)
