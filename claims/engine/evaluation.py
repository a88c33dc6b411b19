"""Evaluation: does a member meet every rule of a claim right now?

The rules are the required apps (healthy accounts), the claim's criterion (one call to
Pipedream: an action's result, or an API answer through the Connect proxy), a valid
BitBadges address, a confirmed email address and the claim's window. Nothing is written;
the caller keeps the evidence.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.utils import timezone

from claims import allowlists, rules
from claims.engine.errors import SETTINGS_NEED_ATTENTION, Permanent, Transient
from claims.models import Claim, Completion
from connections import pipedream
from connections.models import App, ConnectedAccount
from core.addresses import normalize_address, to_bitbadges_address
from users.models import User

State = Completion.State


@dataclass
class Evaluation:
    results: list[rules.RuleResult] = field(default_factory=list)
    identity: str | None = None
    address: str = ""

    @property
    def eligible(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def reason(self) -> str:
        for result in self.results:
            if not result.passed:
                return result.detail or f"{result.label}: not met."
        return ""

    def evidence(self) -> list[dict[str, Any]]:
        return [result.as_json() for result in self.results]


def email_verified(member: User) -> bool:
    return bool(EmailAddress.objects.filter(user=member, verified=True).exists())


def _email_rule(member: User, now: datetime) -> rules.RuleResult:
    """Nothing is delivered to a member who has not confirmed an email address: one
    person, one inbox, is the least a reward asks for. Confirming it checks again."""
    verified = email_verified(member)
    where = f" to {member.email}" if member.email else ""
    return rules.RuleResult(
        rule="email",
        label="Email address confirmed",
        passed=verified,
        value="confirmed" if verified else "not confirmed",
        detail="" if verified else f"Confirm your email address: we sent a link{where}.",
        at=now.isoformat(),
    )


def _address_rule(member: User, now: datetime) -> tuple[rules.RuleResult, str]:
    raw = (member.address or "").strip()
    if not raw:
        return (
            rules.RuleResult(
                rule="address",
                label="BitBadges address set",
                passed=False,
                value="(none)",
                detail="Add your BitBadges address so the badge has somewhere to go.",
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
                label="BitBadges address set",
                passed=False,
                value=raw[:100],
                detail=f"Your BitBadges address is not valid: {' '.join(exc.messages)}",
                at=now.isoformat(),
            ),
            "",
        )
    # Delivered as BitBadges keeps addresses (bb1), whichever spelling the member typed:
    # the same account, and the only form every BitBadges route is known to match.
    return (
        rules.RuleResult(
            rule="address",
            label="BitBadges address set",
            passed=True,
            value=address,
            at=now.isoformat(),
        ),
        to_bitbadges_address(address),
    )


def _criterion_app(claim: Claim) -> App:
    app = claim.criterion_app
    if app is None:  # Claim.clean() refuses a criterion without its app
        raise TypeError(f"claim {claim.pk} has a criterion but no criterion app")
    return app


def _criterion_failed(claim: Claim, message: str, now: datetime) -> tuple[rules.RuleResult, None]:
    label = claim.criterion_display()
    return (
        rules.RuleResult(
            rule="criterion",
            label=label,
            passed=False,
            value="(error)",
            detail=f"Checking your {_criterion_app(claim).name} account failed: {message}",
            at=now.isoformat(),
        ),
        None,
    )


class NotAllowed(Permanent):
    """The claim names a component or proxy host outside the operator's lists (a row
    saved before a list shrank, or written past the admin): nothing was called."""

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(State.FAILED, SETTINGS_NEED_ATTENTION, f"the {what} is refused: {problem}")


def _check_allowed(claim: Claim) -> None:
    """Claim.clean checked the lists when the claim was saved; checked again here, right
    before anything is sent with the member's account."""
    if claim.criterion_proxy_url:
        what, problem = "proxy URL", allowlists.proxy_url_problem(claim.criterion_proxy_url)
    else:
        what, problem = "action", allowlists.component_problem(claim.criterion_action)
    if problem:
        raise NotAllowed(what, problem)


def _criterion_result(claim: Claim, member: User, account: ConnectedAccount) -> Any:
    """What the criterion looks at: the action's return value, or the proxied answer
    (its JSON body, with `$status`). Raises PipedreamError; `_UpstreamSaid` for an
    upstream API refusing through the proxy; NotAllowed, before any call, for a claim
    outside the operator's lists."""
    _check_allowed(claim)
    client = pipedream.get_client()
    if claim.criterion_proxy_url:
        try:
            # The app's `connect` object: a path is joined to the account's own base URL
            # (when the app's depends on it), a full URL must be on its allowed domains.
            # A GET, always: the proxy client's read-only call.
            answer = client.proxy_get(
                claim.criterion_proxy_url,
                external_user_id=str(member.external_id),
                account_id=account.pipedream_id,
                app_connect=_criterion_app(claim).connect or None,
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
        if answer.status >= 400 and claim.criterion_path != "$status":
            raise _UpstreamSaid(answer.status)
        # Read, used and dropped: only the value seen (and an identity) is kept.
        if isinstance(answer.body, dict):
            return {**answer.body, "$status": answer.status}
        if isinstance(answer.body, list):
            return {"items": answer.body, "$status": answer.status}
        return {"$status": answer.status}
    # The account goes under the action's own app prop name (its definition says which),
    # with the dynamic props its definition makes for this account, if it has any.
    props, dynamic_props_id = client.props_for_account(
        claim.criterion_action,
        app_slug=_criterion_app(claim).slug,
        account_id=account.pipedream_id,
        external_user_id=str(member.external_id),
        props=claim.criterion_props or {},
    )
    body = client.run_action(
        action_id=claim.criterion_action,
        external_user_id=str(member.external_id),
        configured_props=props,
        dynamic_props_id=dynamic_props_id,
    )
    return body.get("ret")


class _UpstreamSaid(Exception):
    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"the upstream API answered {status}")


def _run_criterion(
    claim: Claim, member: User, account: ConnectedAccount, now: datetime
) -> tuple[rules.RuleResult, object]:
    """Check the claim's criterion on the member's account; (rule, result looked at)."""
    try:
        result = _criterion_result(claim, member, account)
    except _UpstreamSaid as exc:
        return _criterion_failed(claim, str(exc), now)
    except pipedream.PipedreamError as exc:
        if exc.transient:
            raise Transient(
                "Pipedream did not answer while checking your account; we will try again.",
                str(exc),
            ) from exc
        if isinstance(exc, (pipedream.NotFound, pipedream.Unauthorized, pipedream.NotConfigured)):
            raise Permanent(
                State.FAILED,
                "This claim cannot be checked right now; the site's admins have been told.",
                str(exc),
            ) from exc
        return _criterion_failed(claim, exc.message or str(exc), now)
    rule = rules.criterion_rule(
        result,
        path=claim.criterion_path,
        comparison=claim.criterion_comparison,
        expected=claim.criterion_value,
        now=now,
        text=claim.criterion_text,
    )
    return rule, result


def evaluate(claim: Claim, member: User | None, *, now: datetime | None = None) -> Evaluation:
    """Check every rule of `claim` for `member`; calls Pipedream only for the criterion.

    Raises Transient when Pipedream fails in a way worth retrying.
    """
    if member is None:  # the ledger hands out only completions that have their member
        raise TypeError("evaluate() needs a member")
    now = now or timezone.now()
    evaluation = Evaluation()
    # The member's accounts, read once: for the app rules and the criterion's account.
    connected = list(ConnectedAccount.objects.filter(member=member).select_related("app"))
    required = list(claim.required_apps.order_by("order", "name").values_list("slug", "name"))
    evaluation.results.extend(rules.app_rules(required, rules.account_facts(connected), now=now))
    address_rule, evaluation.address = _address_rule(member, now)
    if claim.has_criterion and evaluation.eligible:
        # The most recently updated healthy account of the criterion's app.
        usable = [
            account
            for account in connected
            if account.app_id == claim.criterion_app_id and account.usable
        ]
        account = max(usable, key=lambda account: account.updated_at, default=None)
        if account is None:
            evaluation.results.append(
                rules.RuleResult(
                    rule="criterion",
                    label=claim.criterion_display(),
                    passed=False,
                    value="(not checked)",
                    detail=f"Connect a healthy {_criterion_app(claim).name} account first.",
                    at=now.isoformat(),
                )
            )
        else:
            rule, result = _run_criterion(claim, member, account, now)
            evaluation.results.append(rule)
            if rule.passed and claim.identity_path:
                identity = rules.identity_of(result, claim.identity_path)
                if identity:
                    evaluation.identity = f"{_criterion_app(claim).slug}:{identity}"
    evaluation.results.append(address_rule)
    evaluation.results.append(_email_rule(member, now))
    if not claim.is_open(now):
        if claim.starts_at and now < claim.starts_at:
            detail = f"This claim opens on {timezone.localtime(claim.starts_at):%Y-%m-%d %H:%M}."
        else:
            detail = "This claim has closed."
        evaluation.results.append(
            rules.RuleResult(
                rule="window",
                label="Claim open",
                passed=False,
                value=now.isoformat(),
                detail=detail,
                at=now.isoformat(),
            )
        )
    return evaluation
