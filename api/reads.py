"""The API's reads: members by their ids, their completions and accounts, a claim's
completions a page at a time. Each read makes the same few queries whatever the number
of rows (one for the rows, one for the members' host ids)."""

import base64
import binascii
import re
import uuid

from django.contrib.auth import get_user_model

from claims.models import Claim, Completion
from connections.models import ConnectedAccount
from users.selectors import host_ids, member_id_for_host_id

_CURSOR = re.compile(r"a([1-9][0-9]{0,18})")
_MAX_ID = 2**63 - 1


class BadCursor(Exception):
    pass


def member_shape(external_id, host_id: str | None) -> dict:
    return {"host_id": host_id or None, "external_id": external_id}


def find_member(*, host_id: str | None, external_id: uuid.UUID | None) -> tuple[int, dict] | None:
    """(member id, member shape) of the member the host knows by `host_id`, or who is
    `external_id` here; None when there is none (the same None either way)."""
    users = get_user_model().objects
    if host_id is not None:
        pk = member_id_for_host_id(host_id)
        if pk is None:
            return None
        found = users.filter(pk=pk).values_list("external_id", flat=True).first()
        return None if found is None else (pk, member_shape(found, host_id))
    if external_id is None:
        return None
    row = users.filter(external_id=external_id).values_list("pk", "external_id").first()
    if row is None:
        return None
    return row[0], member_shape(row[1], host_ids([row[0]]).get(row[0]))


def _completion(row: dict, member: dict | None) -> dict:
    return {
        "id": row["pk"],
        "claim": row["claim__slug"],
        "member": member,
        "state": row["state"],
        "reason": row["reason"],
        "address": row["address"],
        "completed_at": row["completed_at"],
        "updated_at": row["updated_at"],
    }


_COMPLETION_FIELDS = (
    "pk",
    "claim__slug",
    "member_id",
    "member__external_id",
    "state",
    "reason",
    "address",
    "completed_at",
    "updated_at",
)


def member_completions(member_id: int, member: dict) -> list[dict]:
    rows = Completion.objects.filter(member_id=member_id).order_by("pk")
    fields = [name for name in _COMPLETION_FIELDS if name != "member__external_id"]
    return [_completion(row, member) for row in rows.values(*fields)]


def member_accounts(member_id: int) -> list[dict]:
    rows = ConnectedAccount.objects.filter(member_id=member_id).select_related("app")
    return [
        {
            "id": account.pipedream_id,
            "app": account.app.slug,
            "health": account.health,
            "connected_at": account.created_at,
        }
        for account in rows.order_by("pk")
    ]


def encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(f"a{after}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor this API gave continues after; BadCursor for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise BadCursor from None
    match = _CURSOR.fullmatch(text)
    if match is None or int(match[1]) > _MAX_ID:
        raise BadCursor
    return int(match[1])


def claim_id_for(slug: str) -> int | None:
    return Claim.objects.filter(slug=slug).values_list("pk", flat=True).first()


def claim_completions(
    claim_id: int, *, after: int | None, limit: int, state: str | None
) -> tuple[list[dict], str | None]:
    """A page of a claim's completions in id order, after the id `after`; and the
    cursor of the next page (None on the last). Rows added meanwhile come at the end,
    so paging never skips or repeats one."""
    rows = Completion.objects.filter(claim_id=claim_id)
    if state is not None:
        rows = rows.filter(state=state)
    if after is not None:
        rows = rows.filter(pk__gt=after)
    page = list(rows.order_by("pk").values(*_COMPLETION_FIELDS)[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    hosts = host_ids({row["member_id"] for row in page if row["member_id"] is not None})
    results = [
        _completion(
            row,
            None
            if row["member_id"] is None
            else member_shape(row["member__external_id"], hosts.get(row["member_id"])),
        )
        for row in page
    ]
    return results, encode_cursor(page[-1]["pk"]) if more else None
