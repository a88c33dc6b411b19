"""Helpers for the tests of the member's claim pages (/claims/, /c/<slug>/)."""

from itertools import count

from django.utils import timezone

from connections.models import ConnectedAccount

_ids = count(1)


def account(member, app, **fields) -> ConnectedAccount:
    """A connected account of `app` for `member`, with a Pipedream id of its own, read
    from Pipedream just now unless `last_synced_at` says otherwise (a page would re-read
    a stale one: connections/freshness.py)."""
    fields.setdefault("last_synced_at", timezone.now())
    return ConnectedAccount.objects.create(
        member=member, app=app, pipedream_id=f"apn_page_{next(_ids)}", **fields
    )


def claim_block(body: str, slug: str) -> str:
    """The <li> of one claim on /claims/ (up to the next claim or the end of the list)."""
    start = body.index(f'id="claim-{slug}"')
    following = body.find('<li class="card claim', start)
    return body[start : following if following != -1 else len(body)]
