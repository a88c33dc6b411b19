"""What the API answers, as schemas (they make the OpenAPI description).

The shapes of a member, a completion and a connected account are the same as in the
webhooks sent to the host site (issue 23's contract): change them only together.
"""

from datetime import datetime
from uuid import UUID

from ninja import Field, Schema

STATES = "waiting, checking, delivering, completed, ineligible, failed, retrying or revoked"

# Examples in the description (api/v1.py); tests check each fits its schema.
EXAMPLE_MEMBER = {
    "host_id": "host-alice-0001",
    "external_id": "3b32f4bf-c318-4e45-8330-697b6cf3eddf",
}
EXAMPLE_COMPLETION = {
    "id": 123,
    "claim": "github-starter",
    "member": EXAMPLE_MEMBER,
    "state": "completed",
    "reason": "Completed.",
    "address": "bb1qexampleaddress0000000000000000000000",
    "completed_at": "2026-12-07T10:00:00.123456Z",
    "updated_at": "2026-12-07T10:00:00.234567Z",
}
EXAMPLE_ACCOUNT = {
    "id": "apn_abc123",
    "app": "github",
    "health": "healthy",
    "connected_at": "2026-12-01T09:30:00.000001Z",
}


class Member(Schema):
    host_id: str | None = Field(
        description="The member's id on the host site (its OpenID Connect `sub`), or null "
        "when they never signed on from the host site."
    )
    external_id: UUID = Field(description="The member's id here; it never changes.")


class Completion(Schema):
    id: int = Field(description="The completion's id; it never changes.")
    claim: str = Field(description="The claim's slug.")
    member: Member | None = Field(
        description="Who it is for; null once the member deleted their account (the "
        "ledger keeps the row)."
    )
    state: str = Field(description=f"One of {STATES}.")
    reason: str = Field(description="Why it is in this state, in English, as the ledger says.")
    address: str = Field(
        description="The BitBadges address it was (or is to be) delivered to; empty if none."
    )
    completed_at: datetime | None = Field(description="When it completed (UTC), or null.")
    updated_at: datetime = Field(description="When it last changed (UTC).")


class ConnectedAccount(Schema):
    id: str = Field(description="Pipedream's id of the account (apn_...).")
    app: str = Field(description="The app's slug, e.g. github.")
    health: str = Field(description="healthy, unhealthy (needs reconnecting) or dead.")
    connected_at: datetime = Field(description="When the member connected it (UTC).")


class MemberCompletions(Schema):
    member: Member
    results: list[Completion] = Field(description="Oldest first.")


class MemberAccounts(Schema):
    member: Member
    results: list[ConnectedAccount]


class CompletionPage(Schema):
    results: list[Completion] = Field(description="Oldest first (by id).")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class Error(Schema):
    error: str = Field(
        description="What went wrong, for programs: e.g. missing_key, invalid_key, "
        "revoked_key, expired_key, insufficient_scope, rate_limited, "
        "too_many_failed_keys, bad_request, member_not_found, claim_not_found, not_found, "
        "method_not_allowed."
    )
    detail: str = Field(description="What to do about it, for people.")
