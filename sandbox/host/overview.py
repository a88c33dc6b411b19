"""The host provider's section of the /sandbox/ page: where it is, its members, the sites
registered with it (never a secret), its signing key's kid and its id_token faults."""

from django.db.models import Count

from sandbox.host.faults import ID_TOKEN_FAULTS
from sandbox.host.models import HostClient, HostMember, HostSigningKey
from sandbox.host.server import issuer

SHOWN = 50


def overview() -> dict:
    """A fixed number of queries, whatever the number of rows."""
    base = issuer()
    key = HostSigningKey.objects.order_by("pk").first()
    return {
        "issuer": base,
        "discovery_url": f"{base}/.well-known/openid-configuration",
        "jwks_url": f"{base}/jwks",
        "kid": key.kid if key else "",
        "members": list(HostMember.objects.order_by("pk")[:SHOWN]),
        "member_count": HostMember.objects.count(),
        "clients": list(
            HostClient.objects.annotate(code_count=Count("codes", distinct=True))
            .annotate(token_count=Count("tokens", distinct=True))
            .order_by("pk")[:SHOWN]
        ),
        "id_token_faults": ID_TOKEN_FAULTS,
    }
