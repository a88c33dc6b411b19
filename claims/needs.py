"""The member's broken accounts that a claim still needs: the warnings on the home page and
/accounts/, and the email the notifications app sends when such an account stops working.

`broken_needed(member)` reads it in a fixed number of queries whatever the number of
accounts and claims. It asks claims/selectors.py which fix each requirement of each claim
wants (the one rule the claims pages use), and keeps the Reconnect fixes: a claim needs a
broken account when no usable account of its app is connected (and, for a claim's "any"
requirements, none of the other apps is in place). A claim the member has earned, that was
taken back, that is past its check (delivering, retrying a delivery) or that takes nothing
new (used up, halted, closed) needs nothing. A claim waiting for its check, or being checked,
does: an account's health changing queues a check of the claims of its app
(claims/receivers.py), and that check runs on the account. Every broken account of a
needed app is named: reconnecting any one of them will do.
"""

from dataclasses import dataclass, field
from urllib.parse import quote

from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from claims import rules, selectors
from claims.models import Claim, Completion
from connections.models import App, ConnectedAccount

# A stop that leaves nothing for the member to do about the claim now (as the home page).
_NOTHING_TO_DO = ("used_up", "halted", "closed")
# Under way past the check: the accounts are not read again.
_PAST_THE_CHECK = (Completion.State.DELIVERING, Completion.State.RETRYING)


@dataclass
class BrokenNeed:
    """One broken account (unhealthy or dead) and the claims that wait on it."""

    account: ConnectedAccount
    app: App
    claims: list[Claim] = field(default_factory=list)

    @property
    def next_path(self) -> str:
        """Where the member lands after reconnecting: the claim when there is one, else
        their accounts."""
        if len(self.claims) == 1:
            return reverse("claims:landing", args=[self.claims[0].slug])
        return reverse("connections:accounts")

    @property
    def reconnect_url(self) -> str:
        """The local path of the Reconnect button (login required there: it logs nobody in)."""
        connect = reverse("connections:connect", args=[self.app.slug])
        return f"{connect}?account={self.account.pk}&next={quote(self.next_path, safe='/')}"

    @property
    def sentence(self) -> str:
        """ "Your GitHub account (octo) stopped working. Octo Badge needs it." as plain
        text: the same words on the pages and in the email."""
        names = [claim.name for claim in self.claims]
        return _sentence(self.app.name, self.account.name, names, str)

    @property
    def sentence_html(self) -> SafeString:
        """The same sentence with each claim's name a link to its page, all of it escaped."""
        links = [
            format_html('<a href="{}">{}</a>', reverse("claims:landing", args=[c.slug]), c.name)
            for c in self.claims
        ]
        sentence = _sentence(self.app.name, self.account.name, links, conditional_escape)
        return mark_safe(sentence)  # noqa: S308 - every part went through conditional_escape


def _sentence(app: str, account: str, names: list, escape) -> str:
    """The warning's words around `names`; `escape` is applied to every part (the
    translated words included) before they are put together."""
    values = {"app": escape(app), "account": escape(account)}
    if account:
        broken = escape(_("Your %(app)s account (%(account)s) stopped working.")) % values
    else:
        broken = escape(_("Your %(app)s account stopped working.")) % values
    needs = escape(ngettext("%(claims)s needs it.", "%(claims)s need it.", len(names)))
    listed = get_text_list([str(escape(name)) for name in names], str(escape(_("and"))))
    return f"{broken} {needs % {'claims': listed}}"


def broken_needed(
    member,
    *,
    accounts: selectors.Accounts | list[ConnectedAccount] | None = None,
    rows: list[selectors.ClaimRow] | None = None,
) -> list[BrokenNeed]:
    """The member's broken accounts that an enabled claim they have not earned needs, each
    with those claims (by name), in the accounts' order. One query when no account is
    broken (the accounts), four otherwise (the claims, their requirements, the member's
    completions): never more with more accounts or claims, and none for what the caller
    passes: `accounts` (member_accounts', or a list of the member's accounts with their
    apps) and `rows` (claims_for_member's)."""
    if isinstance(accounts, list):  # the member's accounts, with their apps
        accounts = selectors.Accounts(accounts, rules.account_facts(accounts))
    accounts = accounts or selectors.member_accounts(member)
    broken = [account for account in accounts.connected if account.needs_reconnect]
    if not broken:
        return []
    if rows is None:
        # The email row ("confirm your address") is no concern here: no query for it.
        rows = selectors.claims_for_member(member=member, accounts=accounts, verified=True)
    needed: dict[int, list[Claim]] = {}  # app pk -> the claims that wait on one of its accounts
    for row in sorted(rows, key=lambda row: (row.claim.name, row.claim.pk)):
        if row.state in _PAST_THE_CHECK or (
            row.stop is not None and row.stop.kind in _NOTHING_TO_DO
        ):
            continue
        for requirement in row.fixes:  # none for an earned or taken-back claim
            if requirement.fix != selectors.FIX_RECONNECT or requirement.app is None:
                continue
            waiting = needed.setdefault(requirement.app.pk, [])
            if row.claim not in waiting:
                waiting.append(row.claim)
    return [
        BrokenNeed(account=account, app=account.app, claims=list(needed[account.app_id]))
        for account in broken
        if needed.get(account.app_id)
    ]
