"""A trigger signing key and Pipedream's signature headers, for the attack suite's webhook
tests."""

import hashlib
import hmac
import time

from claims import triggers
from claims.models import Claim, TriggerDeployment
from connections.models import ConnectedAccount

KEY = "whsec-attack-suite-signing-key-0123456789"


def signed(body: bytes, *, key=KEY, event_id="evt_1", timestamp=None) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(key.encode(), f"{timestamp}.{event_id}.".encode() + body, hashlib.sha256)
    return {
        "HTTP_X_PD_SIGNATURE": f"t={timestamp},v1={digest.hexdigest()}",
        "HTTP_X_PD_EVENT_ID": event_id,
    }


def trigger_deployment(member, app, *, slug: str, pipedream_id: str):
    """An active trigger deployment of member's account of `app` for a store claim,
    signed with KEY; its `query` is the d=<reference> its webhook URL carries."""
    account = ConnectedAccount.objects.create(member=member, app=app, pipedream_id="apn_1")
    claim = Claim(slug="star", name="Star", enabled=True, delivery="dynamic_store", store_id="s")
    claim.set_store_secret(f"store-secret-{slug}")
    claim.save()
    deployment = TriggerDeployment(
        claim=claim,
        member=member,
        account=account,
        account_pipedream_id="apn_1",
        pipedream_id=pipedream_id,
        status=TriggerDeployment.Status.ACTIVE,
    )
    deployment.set_signing_key(KEY)
    deployment.save()
    deployment.query = triggers.webhook_url(deployment).split("?", 1)[1]
    return deployment
