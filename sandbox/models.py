"""The sandbox's models, for Django: one app (label "sandbox"), its models kept by service.

Django looks for an app's models in its `models` module; the sandbox defines them in
sandbox/pipedream/models.py, sandbox/bitbadges/models.py, sandbox/host/models.py and
sandbox/common/models.py,
and imports them here so that the app registry (and makemigrations) finds them. Code
imports them from where they are defined.
"""

from sandbox.bitbadges.models import (
    BitBadgesAttempt,
    BitBadgesClaim,
    BitBadgesCredits,
    BitBadgesStore,
    BitBadgesStoreAction,
    BitBadgesStoreEntry,
    SiwbbApp,
    SiwbbCode,
    SiwbbToken,
)
from sandbox.common.models import Fault
from sandbox.host.models import (
    HostAuthorizationCode,
    HostClient,
    HostMember,
    HostSigningKey,
    HostToken,
)
from sandbox.pipedream.models import (
    Account,
    ConnectToken,
    DeployedTrigger,
    ExternalUser,
    OAuthAccessToken,
    TriggerEvent,
    WebhookDelivery,
)

__all__ = [
    "Account",
    "BitBadgesAttempt",
    "BitBadgesClaim",
    "BitBadgesCredits",
    "BitBadgesStore",
    "BitBadgesStoreAction",
    "BitBadgesStoreEntry",
    "ConnectToken",
    "DeployedTrigger",
    "ExternalUser",
    "Fault",
    "HostAuthorizationCode",
    "HostClient",
    "HostMember",
    "HostSigningKey",
    "HostToken",
    "OAuthAccessToken",
    "SiwbbApp",
    "SiwbbCode",
    "SiwbbToken",
    "TriggerEvent",
    "WebhookDelivery",
]
