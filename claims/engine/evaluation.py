"""Evaluation: does a member meet every rule of a claim right now?

The rules are the claim's requirements (healthy accounts of their apps, and checks: one
call to Pipedream each, an action's result or an API answer through the Connect proxy,
combined with all / any / none), a valid BitBadges address (proven, when the claim
requires it), a confirmed email address or a proven address, and the claim's window.
Nothing is written; the caller keeps the evidence.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from claims import allowlists, rules, wording
from claims.engine.errors import SETTINGS_NEED_ATTENTION, Permanent, Transient
from claims.models import Claim, Completion, Requirement
from connections import pipedream
from connections.models import ConnectedAccount
from connections.selectors import accounts_with_apps
from core.addresses import normalize_address, to_bitbadges_address
from users.models import User
from users.selectors import member_identity_confirmed

State = Completion.State
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequirementOutcome:
    """Whether a member meets one requirement: None when it was not checked (a call
    saved: an earlier requirement already failed, or another of "any" was met)."""

    requirement_id: int
    label: str
    group: str
    passed: bool | None


@dataclass
class Evaluation:
    requirements: list[Requirement] = field(default_factory=list)
    results: list[rules.RuleResult] = field(default_factory=list)
    # requirement pk -> the rule keys of its results (its app's account rules, its check)
    keys: dict[int, list[str]] = field(default_factory=dict)
    identity: str | None = None
    identity_app: str = ""
    address: str = ""
    # Whether the member had proven `address` (Sign in with BitBadges) when evaluated.
    address_proven: bool = False

    def _result(self, key: str) -> rules.RuleResult | None:
        return next((result for result in self.results if result.rule == key), None)

    def met(self, requirement: Requirement) -> bool:
        """Whether the member meets it: its account rules pass, and its check (when
        it has one, and it ran) finds what it asks (or, for "none", does not)."""
        found = [self._result(key) for key in self.keys.get(requirement.pk, [])]
        return all(result is not None and result.passed for result in found)

    @property
    def outcomes(self) -> list[RequirementOutcome]:
        outcomes = []
        for requirement in self.requirements:
            check = self._result(requirement.rule_key) if requirement.runs_check else None
            passed: bool | None = self.met(requirement)
            if not passed and check is not None and check.value == "(not checked)":
                account_ok = all(
                    (r := self._result(k)) is not None and r.passed
                    for k in self.keys.get(requirement.pk, [])
                    if k != requirement.rule_key
                )
                passed = None if account_ok else False
            outcomes.append(
                RequirementOutcome(
                    requirement.pk, staff_label(requirement), requirement.group, passed
                )
            )
        return outcomes

    def _blocking(self) -> set[str]:
        """The rule keys whose failure stops the member: those of every unmet "all" and
        "none" requirement, and of every "any" one when none of them is met."""
        keys: set[str] = set()
        anys = [r for r in self.requirements if r.group == Requirement.Group.ANY]
        any_met = any(self.met(r) for r in anys)
        for requirement in self.requirements:
            if requirement.group == Requirement.Group.ANY and any_met:
                continue
            if not self.met(requirement):
                keys.update(self.keys.get(requirement.pk, []))
        return keys

    def unmet(self) -> list[rules.RuleResult]:
        """The failed results that stop the member, in order: the requirements' (an "any"
        one only when none of its group is met), then the site's own rules."""
        blocking = self._blocking()
        owned = {key for keys in self.keys.values() for key in keys}
        return [
            result
            for result in self.results
            if not result.passed and (result.rule in blocking or result.rule not in owned)
        ]

    @property
    def eligible(self) -> bool:
        return not self.unmet()

    @property
    def reason(self) -> str:
        """Why the member is not eligible, in English (stored; see `evaluate`)."""
        with translation.override("en"):
            return self._reason()

    def _reason(self) -> str:
        unmet = self.unmet()
        if not unmet:
            return ""
        first = unmet[0]
        anys = [r for r in self.requirements if r.group == Requirement.Group.ANY]
        if anys and first.rule in {k for r in anys for k in self.keys.get(r.pk, [])}:
            return wording.MEET_ONE_OF % {"list": "; ".join(_label(r) for r in anys)}
        return first.detail or wording.NOT_MET % {"requirement": first.label}

    def evidence(self) -> list[dict[str, Any]]:
        return [result.as_json() for result in self.results]


def _email_rule(member: User, now: datetime, email_verified: bool | None) -> rules.RuleResult:
    """Nothing is delivered to a member who holds nothing only they could prove: a
    confirmed email address (one person, one inbox) or an address proven by Sign in with
    BitBadges (users.selectors.member_identity_confirmed). Confirming an email, or proving
    the address, checks again (claims/receivers.py)."""
    if email_verified is None or member.address_proven:
        confirmed = member_identity_confirmed(member=member)
    else:  # users.selectors' rule, its email half read already
        confirmed = email_verified
    both_ways = rules.address_proving_available()
    if confirmed:
        detail = ""
    elif both_ways:
        detail = (
            wording.CONFIRM_EMAIL_OR_PROVE_TO % {"email": member.email}
            if member.email
            else wording.ADD_EMAIL_OR_PROVE
        )
    elif member.email:
        detail = wording.CONFIRM_EMAIL_TO % {"email": member.email}
    else:
        detail = wording.ADD_EMAIL  # no email: no link was sent
    if confirmed:
        value = "proven address" if member.address_proven else "confirmed"
    else:
        value = "not confirmed"
    return rules.RuleResult(
        rule="email",
        label=wording.IDENTITY_LABEL if both_ways else wording.EMAIL_LABEL,
        passed=confirmed,
        value=value,
        detail=detail,
        at=now.isoformat(),
    )


def _proven_rule(member: User, now: datetime) -> rules.RuleResult:
    """A claim that requires a proven address: the member's address is the one Sign in
    with BitBadges returned (the proof is cleared when they type another one)."""
    proven = member.address_proven
    if proven:
        detail = ""
    elif (member.address or "").strip():
        detail = wording.PROVE_ADDRESS
    else:
        detail = wording.PROVE_NEW_ADDRESS
    return rules.RuleResult(
        rule="proven_address",
        label=wording.PROVEN_LABEL,
        passed=proven,
        value="proven" if proven else "not proven",
        detail=detail,
        at=now.isoformat(),
    )


def _address_rule(member: User, now: datetime) -> tuple[rules.RuleResult, str]:
    raw = (member.address or "").strip()
    if not raw:
        return (
            rules.RuleResult(
                rule="address",
                label=wording.ADDRESS_LABEL,
                passed=False,
                value="(none)",
                detail=wording.ADDRESS_MISSING,
                at=now.isoformat(),
            ),
            "",
        )
    try:
        address = normalize_address(raw)
    except ValidationError as exc:
        return (
            rules.RuleResult(
                rule="address",
                label=wording.ADDRESS_LABEL,
                passed=False,
                value=raw[:100],
                detail=wording.ADDRESS_INVALID % {"problem": " ".join(exc.messages)},
                at=now.isoformat(),
            ),
            "",
        )
    # Delivered as BitBadges keeps addresses (bb1), whichever spelling the member typed:
    # the same account, and the only form every BitBadges route is known to match.
    return (
        rules.RuleResult(
            rule="address",
            label=wording.ADDRESS_LABEL,
            passed=True,
            value=address,
            at=now.isoformat(),
        ),
        to_bitbadges_address(address),
    )


def _not_checked(requirement: Requirement, detail: str, now: datetime) -> rules.RuleResult:
    return rules.RuleResult(
        rule=requirement.rule_key,
        label=_label(requirement),
        passed=False,
        value="(not checked)",
        detail=detail,
        at=now.isoformat(),
    )


def _label(requirement: Requirement) -> str:
    return requirement.member_sentence()


def staff_label(requirement: Requirement) -> str:
    """What staff read in a dry run: the check itself (members never see it)."""
    label = requirement.technical_label()
    return f"Must not: {label}" if requirement.group == Requirement.Group.NONE else label


def _check_failed(requirement: Requirement, message: str, now: datetime) -> rules.RuleResult:
    # What the upstream API or Pipedream said is for staff (the log), not the member.
    logger.info("Check of requirement %s failed: %s", requirement.pk, message)
    app = requirement.app.name
    return rules.RuleResult(
        rule=requirement.rule_key,
        label=_label(requirement),
        passed=False,
        value="(error)",
        detail=wording.CHECK_UNANSWERED % {"app": app},
        at=now.isoformat(),
    )


class NotAllowed(Permanent):
    """The claim names a component or proxy host outside the operator's lists (a row
    saved before a list shrank, or written past the admin): nothing was called."""

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(State.FAILED, SETTINGS_NEED_ATTENTION, f"the {what} is refused: {problem}")


def _check_allowed(requirement: Requirement) -> None:
    """Requirement.clean checked the lists when the claim was saved; checked again here,
    right before anything is sent with the member's account."""
    if requirement.kind == Requirement.Kind.PROXY:
        what, problem = "proxy URL", allowlists.proxy_url_problem(requirement.proxy_url)
    else:
        what, problem = "action", allowlists.component_problem(requirement.action)
    if problem:
        raise NotAllowed(what, problem)


def check_result(requirement: Requirement, member: User, account: ConnectedAccount) -> Any:
    """What a requirement's check looks at: the action's return value, or the proxied
    answer (its JSON body, with `$status`). Raises PipedreamError; `UpstreamSaid` for an
    upstream API refusing through the proxy; NotAllowed, before any call, for a check
    outside the operator's lists. (Try it in the admin shows the same answer.)"""
    _check_allowed(requirement)
    client = pipedream.get_client()
    if requirement.kind == Requirement.Kind.PROXY:
        try:
            # The app's `connect` object: a path is joined to the account's own base URL
            # (when the app's depends on it), a full URL must be on its allowed domains.
            # A GET, always: the proxy client's read-only call.
            answer = client.proxy_get(
                requirement.proxy_url,
                external_user_id=str(member.external_id),
                account_id=account.pipedream_id,
                app_connect=requirement.app.connect or None,
            )
        except ValueError as exc:
            # Refused before any request: the app's Pipedream description changed since
            # the claim was saved (a sync), or the URL never went through Claim.clean.
            raise Permanent(
                State.FAILED, SETTINGS_NEED_ATTENTION, f"the proxy URL is refused: {exc}"
            ) from exc
        if answer.status >= 500 or answer.status in (408, 429):
            # Busy or down upstream: try again later, never "not eligible" because of it.
            raise pipedream.Unavailable(
                f"the upstream API answered {answer.status}", operation="proxy"
            )
        if answer.status >= 400 and requirement.path != "$status":
            raise UpstreamSaid(answer.status)
        # Read, used and dropped: only the value seen (and an identity) is kept.
        if isinstance(answer.body, dict):
            return {**answer.body, "$status": answer.status}
        if isinstance(answer.body, list):
            return {"items": answer.body, "$status": answer.status}
        return {"$status": answer.status}
    # The account goes under the action's own app prop name (its definition says which),
    # with the dynamic props its definition makes for this account, if it has any.
    props, dynamic_props_id = client.props_for_account(
        requirement.action,
        app_slug=requirement.app.slug,
        account_id=account.pipedream_id,
        external_user_id=str(member.external_id),
        props=requirement.props or {},
    )
    body = client.run_action(
        action_id=requirement.action,
        external_user_id=str(member.external_id),
        configured_props=props,
        dynamic_props_id=dynamic_props_id,
    )
    return body.get("ret")


class UpstreamSaid(Exception):
    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"the upstream API answered {status}")


def _run_check(
    requirement: Requirement, member: User, account: ConnectedAccount, now: datetime
) -> tuple[rules.RuleResult, object]:
    """Check a requirement on the member's account; (rule, result looked at)."""
    try:
        result = check_result(requirement, member, account)
    except UpstreamSaid as exc:
        return _check_failed(requirement, str(exc), now), None
    except pipedream.PipedreamError as exc:
        if exc.transient:
            raise Transient(
                gettext_noop(
                    "Pipedream did not answer while checking your account; we will try again."
                ),
                str(exc),
            ) from exc
        if isinstance(exc, (pipedream.NotFound, pipedream.Unauthorized, pipedream.NotConfigured)):
            raise Permanent(
                State.FAILED,
                gettext_noop(
                    "This claim cannot be checked right now; the site's admins have been told."
                ),
                str(exc),
            ) from exc
        return _check_failed(requirement, exc.message or str(exc), now), None
    rule = rules.criterion_rule(
        result,
        rule=requirement.rule_key,
        path=requirement.path,
        comparison=requirement.comparison,
        expected=requirement.value,
        now=now,
        text=requirement.text,
        must_not=requirement.group == Requirement.Group.NONE,
        app_name=requirement.app.name,
        proxy_url=requirement.proxy_url,
    )
    return rule, result


def _usable_account(
    requirement: Requirement, connected: list[ConnectedAccount]
) -> ConnectedAccount | None:
    """The most recently updated healthy account of the requirement's app, or None."""
    usable = [a for a in connected if a.app_id == requirement.app_id and a.usable]
    return max(usable, key=lambda account: account.updated_at, default=None)


def _account_rules(
    evaluation: Evaluation,
    requirements: list[Requirement],
    connected: list[ConnectedAccount],
    now: datetime,
) -> None:
    """Each app's account rules, once per app, and which requirement needs them."""
    facts = rules.account_facts(connected)
    done: dict[int, list[str]] = {}
    for requirement in requirements:
        if requirement.app_id not in done:
            found = rules.app_rules([(requirement.app.slug, requirement.app.name)], facts, now=now)
            evaluation.results.extend(found)
            done[requirement.app_id] = [result.rule for result in found]
        evaluation.keys[requirement.pk] = list(done[requirement.app_id])


def _checks(
    evaluation: Evaluation,
    requirements: list[Requirement],
    member: User,
    connected: list[ConnectedAccount],
    now: datetime,
) -> None:
    """Run the checks: those of every member (all, none) in order, stopping at the first
    unmet; then those of "any" until one is met. Nothing is called for a member who
    already fails a rule that needs no call."""
    musts = [r for r in requirements if r.group != Requirement.Group.ANY]
    anys = [r for r in requirements if r.group == Requirement.Group.ANY]
    stopped = any(not evaluation.met(r) for r in musts)
    for requirement in [*musts, *anys]:
        if not requirement.runs_check:
            continue
        evaluation.keys[requirement.pk].append(requirement.rule_key)
        account = _usable_account(requirement, connected)
        # Another of "any" met: an account one, or a check that has run already.
        any_met = requirement.group == Requirement.Group.ANY and any(
            evaluation.met(r)
            for r in anys
            if r.pk != requirement.pk
            and (not r.runs_check or r.rule_key in evaluation.keys.get(r.pk, []))
        )
        if account is None:
            evaluation.results.append(
                _not_checked(
                    requirement, wording.CONNECT_FIRST % {"app": requirement.app.name}, now
                )
            )
        elif stopped:
            evaluation.results.append(_not_checked(requirement, wording.CHECKED_LATER, now))
        elif any_met:
            evaluation.results.append(_not_checked(requirement, wording.NOT_NEEDED, now))
        else:
            rule, result = _run_check(requirement, member, account, now)
            evaluation.results.append(rule)
            if rule.passed and requirement.identity_path:
                identity = rules.identity_of(result, requirement.identity_path)
                if identity:
                    evaluation.identity = f"{requirement.app.slug}:{identity}"
                    evaluation.identity_app = requirement.app.name
        if requirement.group != Requirement.Group.ANY and not evaluation.met(requirement):
            stopped = True


def evaluate(
    claim: Claim,
    member: User | None,
    *,
    now: datetime | None = None,
    requirements: list[Requirement] | None = None,
    email_verified: bool | None = None,
    accounts: list[ConnectedAccount] | None = None,
) -> Evaluation:
    """Check every requirement of `claim` for `member`, and the site's own rules (an
    address, proven when the claim requires it; a confirmed email or a proven address;
    the claim's window); calls Pipedream only for checks.

    Its labels, details and reason are English whatever language is active: the reason is
    stored on the completion, and pages show it in the member's language
    (claims/wording.py, `reason_words`). Raises Transient when Pipedream fails in a way
    worth retrying. `requirements` (the claim's, in order, with their apps),
    `email_verified` (whether the member has a confirmed email) and `accounts` (the
    member's ConnectedAccounts, with their apps) may be given when the caller has read
    them already; otherwise they are read here.
    """
    with translation.override("en"):
        return _evaluate(claim, member, now, requirements, email_verified, accounts)


def _evaluate(
    claim: Claim,
    member: User | None,
    now: datetime | None,
    requirements: list[Requirement] | None,
    email_verified: bool | None,
    accounts: list[ConnectedAccount] | None = None,
) -> Evaluation:
    if member is None:  # the ledger hands out only completions that have their member
        raise TypeError("evaluate() needs a member")
    now = now or timezone.now()
    if requirements is None:
        requirements = claim.requirement_list()
    if not any(r.group != Requirement.Group.NONE for r in requirements):
        # Nothing a member must meet (saved past the admin, or by staff who may not edit
        # requirements): never "everyone qualifies".
        raise Permanent(
            State.FAILED,
            SETTINGS_NEED_ATTENTION,
            "the claim has no requirement a member must meet (all or any)",
        )
    evaluation = Evaluation(requirements=requirements)
    # The member's accounts, read once: for the account rules and the checks' accounts.
    connected = accounts if accounts is not None else accounts_with_apps(member.pk)
    _account_rules(evaluation, requirements, connected, now)
    _checks(evaluation, requirements, member, connected, now)
    if claim.require_proven_address:
        # Before the address's own rule: to a member with none, connecting BitBadges is
        # the way to add one here.
        evaluation.results.append(_proven_rule(member, now))
    address_rule, evaluation.address = _address_rule(member, now)
    evaluation.results.append(address_rule)
    evaluation.address_proven = bool(evaluation.address) and member.address_proven
    evaluation.results.append(_email_rule(member, now, email_verified))
    if not claim.is_open(now):
        if claim.starts_at and now < claim.starts_at:
            # Read back in the member's language by claims/life.py (its OPENS sentence).
            detail = f"This claim opens on {timezone.localtime(claim.starts_at):%Y-%m-%d %H:%M}."
        else:
            detail = wording.CLAIM_HAS_CLOSED
        evaluation.results.append(
            rules.RuleResult(
                rule="window",
                label=wording.WINDOW_LABEL,
                passed=False,
                value=now.isoformat(),
                detail=detail,
                at=now.isoformat(),
            )
        )
    return evaluation
