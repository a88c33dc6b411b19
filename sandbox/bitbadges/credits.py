"""The emulated BitBadges' API credits: one account, debited once per request; 402
when none is left (docs api/README.md "Out of credits (402)")."""

from django.db import IntegrityError, connections, router, transaction
from django.db.models import F

from core import database
from sandbox.bitbadges.base import (
    CREDIT_DECIMALS,
    NO_CREDITS_ERROR,
    NO_CREDITS_MESSAGE,
    TOP_UP_URL,
    BitBadgesError,
)
from sandbox.bitbadges.models import (
    BitBadgesCredits,
)

# --- Credits -------------------------------------------------------------------------


def _credits_row() -> BitBadgesCredits:
    pk = BitBadgesCredits.SINGLETON_PK
    row = BitBadgesCredits.objects.filter(pk=pk).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return BitBadgesCredits.objects.create(pk=pk)
    except IntegrityError:  # made by a concurrent request
        return BitBadgesCredits.objects.get(pk=pk)


def _debit_one() -> bool:
    """One credit spent, if one is left: a single statement, written out (every request
    of the sandbox's BitBadges runs it; QuerySet.update compiled it afresh each time and
    wrapped it in a transaction of its own, three round trips instead of one)."""
    connection = connections[router.db_for_write(BitBadgesCredits)]
    with connection.cursor() as cursor:
        cursor.execute(_debit_statement(connection), [BitBadgesCredits.SINGLETON_PK])
        return cursor.rowcount == 1


@database.written
def _debit_statement(connection) -> str:
    quote = connection.ops.quote_name
    opts = BitBadgesCredits._meta
    table, used, total = (
        quote(opts.db_table),
        quote(opts.get_field("used").column),
        quote(opts.get_field("on_chain_total").column),
    )
    return (
        f"UPDATE {table} SET {used} = {used} + 1 "  # noqa: S608
        f"WHERE {quote(opts.pk.column)} = %s AND {used} < {total}"
    )


def no_credits_body(on_chain_total: int, used: int) -> dict:
    """The docs' 402 body, numbers as JSON numbers."""
    return {
        "error": NO_CREDITS_ERROR,
        "errorMessage": NO_CREDITS_MESSAGE,
        "topUpUrl": TOP_UP_URL,
        "onChainTotal": on_chain_total,
        "used": used,
        "remaining": 0,
        "decimals": CREDIT_DECIMALS,
    }


def credits_debit() -> None:
    """Spend one credit of the API key's account, or BitBadgesError 402 when none is left.

    One conditional UPDATE (used < on_chain_total): two requests racing for the last
    credit cannot both win.
    """
    if _debit_one():
        return
    _credits_row()  # the first request ever: make the row, then try again
    if _debit_one():
        return
    row = _credits_row()
    raise BitBadgesError(
        402, NO_CREDITS_MESSAGE, body=no_credits_body(row.on_chain_total, row.used)
    )


def credits_exhausted_body() -> dict:
    """The 402 body of an injected fault: the account's on-chain total, all of it used
    (unconfirmed: an injected 402 has no real figures; these are consistent with it)."""
    row = _credits_row()
    return no_credits_body(row.on_chain_total, row.on_chain_total)


def credits() -> BitBadgesCredits:
    """The account's credits (on_chain_total, used, remaining)."""
    return _credits_row()


def credits_remaining() -> int:
    return _credits_row().remaining


def credits_set(remaining: int) -> BitBadgesCredits:
    """Set the balance: `used` moves so that `remaining` are left (the total grows if it
    has to). credits_set(0) makes every request answer 402."""
    if isinstance(remaining, bool) or not isinstance(remaining, int) or remaining < 0:
        raise ValueError(f"remaining must be a whole number >= 0, not {remaining!r}")
    with transaction.atomic():
        row = _credits_row()
        row = BitBadgesCredits.objects.select_for_update().get(pk=row.pk)
        if remaining > row.on_chain_total:
            row.on_chain_total, row.used = remaining, 0
        else:
            row.used = row.on_chain_total - remaining
        row.save()
    return row


def credits_top_up(amount: int) -> BitBadgesCredits:
    """Add `amount` credits on chain (the docs: the balance confirms on-chain)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(f"amount must be a whole number >= 0, not {amount!r}")
    _credits_row()
    BitBadgesCredits.objects.filter(pk=BitBadgesCredits.SINGLETON_PK).update(
        on_chain_total=F("on_chain_total") + amount
    )
    return _credits_row()
