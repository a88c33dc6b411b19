"""Event-driven claims: a claim's Pipedream trigger, whose events make us check members.

- deploy: deploying and removing triggers, per member on the member's own account, or
  once per claim on the site's account for a shared resource (site_deployment_sync);
- receive: deliveries to our webhook, wake-up calls that are never evidence;
- events: the deployed trigger's events list, and the members its events concern.

Callers use `from claims import triggers` and the names below.
"""

from claims.triggers.deploy import (
    REFERENCE_SALT,
    claims_with_trigger_on,
    deployment_ensure,
    deployment_remove,
    deployments_to_remove,
    member_deployments_sync,
    site_claims_on,
    site_deployment_sync,
    tidy,
    webhook_url,
)
from claims.triggers.events import event_process, event_subject, members_named
from claims.triggers.receive import (
    BODY_MAX,
    EVENT_ID_HEADER,
    FRESHNESS,
    REFUSED_BODY_MAX,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Refused,
    delivery_receive,
    headers_kept,
    signature_format,
)

__all__ = [
    "BODY_MAX",
    "EVENT_ID_HEADER",
    "FRESHNESS",
    "REFERENCE_SALT",
    "REFUSED_BODY_MAX",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Refused",
    "claims_with_trigger_on",
    "delivery_receive",
    "deployment_ensure",
    "deployment_remove",
    "deployments_to_remove",
    "event_process",
    "event_subject",
    "headers_kept",
    "member_deployments_sync",
    "members_named",
    "signature_format",
    "site_claims_on",
    "site_deployment_sync",
    "tidy",
    "webhook_url",
]
