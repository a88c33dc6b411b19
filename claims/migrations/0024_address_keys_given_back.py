"""Only a completion that may have sent something holds its address (and identity).

Before this, a completion that stopped or waited with nothing sent (a retry, a check that
found the member not eligible any more, a held or deleted member) could keep the address
it took on a one-per-address claim, so the address's other site accounts read "Already
claimed for this address." although nothing went to it. Such rows let go of the address
here: waiting, retrying, not eligible or failed, no unknown outcome, never completed or
revoked. Those that staff did not grant let go of their upstream identity too (a grant
is delivered with the identity it carries).

The members refused such an address ("Already claimed for this address.") whose address
is now free are queued for a check (the worker, or `manage.py complete_claims`, runs it).
"""

from django.core.exceptions import ValidationError
from django.db import migrations
from django.utils import timezone

from core.addresses import normalize_address, to_bitbadges_address

IDLE = ("waiting", "retrying", "ineligible", "failed")
ADDRESS_CLAIMED = "Already claimed for this address."
QUEUED = "Queued for a check."


def _key(address):
    try:
        return to_bitbadges_address(normalize_address(address)) if address else ""
    except (ValidationError, ValueError):
        return ""


def give_back(apps, schema_editor):
    Completion = apps.get_model("claims", "Completion")
    CompletionEvent = apps.get_model("claims", "CompletionEvent")
    delivered = CompletionEvent.objects.filter(to_state__in=("completed", "revoked")).values(
        "completion_id"
    )
    idle = (
        Completion.objects.filter(state__in=IDLE, outcome_unknown=False)
        .exclude(pk__in=delivered)
        .exclude(address_key="", upstream_identity="")
    )
    freed = set()
    for row in idle.only("pk", "claim_id", "address_key", "upstream_identity", "staff_granted"):
        fields = {}
        if row.address_key:
            freed.add((row.claim_id, row.address_key))
            fields["address_key"] = ""
        if row.upstream_identity and not row.staff_granted:
            fields["upstream_identity"] = ""
        if fields:
            Completion.objects.filter(pk=row.pk).update(**fields)
    now = timezone.now()
    for claim_id, key in sorted(freed):
        if Completion.objects.filter(claim_id=claim_id, address_key=key).exists():
            continue  # another completion holds it (and the refusal stands)
        refused = Completion.objects.filter(
            claim_id=claim_id,
            state="ineligible",
            reason=ADDRESS_CLAIMED,
            member__isnull=False,
            member__is_active=True,
        ).select_related("member")
        for row in refused:
            if _key(row.member.address) != key:
                continue
            Completion.objects.filter(pk=row.pk).update(
                state="waiting",
                next_attempt_at=now,
                reason=QUEUED,
                attempts=0,
                recheck_at=None,
                rechecks=0,
                updated_at=now,
            )
            CompletionEvent.objects.create(
                completion_id=row.pk,
                from_state="ineligible",
                to_state="waiting",
                reason="requested",
                details={"address_free": key, "by": "migration claims 0024"},
                actor_kind="system",
                actor_detail="the address was given back",
            )


class Migration(migrations.Migration):
    dependencies = [("claims", "0023_address_rules")]

    operations = [migrations.RunPython(give_back, migrations.RunPython.noop, elidable=True)]
