"""The host provider's signing key: one RSA key, made the first time it is needed and
kept in the database (sandbox/host/models.py HostSigningKey), published at jwks.

joserfc (Authlib's JOSE library) makes, loads and publishes it. The `kid` is the key's
RFC 7638 thumbprint, so it names this key and no other.
"""

from joserfc.jwk import KeySet, RSAKey

from sandbox.host.models import HostSigningKey

ALGORITHM = "RS256"
KEY_SIZE = 2048


def _new_key() -> RSAKey:
    key = RSAKey.generate_key(KEY_SIZE, parameters={"use": "sig", "alg": ALGORITHM}, private=True)
    return RSAKey.import_key(key.as_dict(private=True), parameters={"kid": key.thumbprint()})


def signing_row() -> HostSigningKey:
    """The key that signs: the first one made. Two first requests at once may each make
    one; both are kept and published, and both then sign with the first."""
    row = HostSigningKey.objects.order_by("pk").first()
    if row is None:
        key = _new_key()
        HostSigningKey.objects.create(kid=key.kid, private_jwk=key.as_dict(private=True))
        row = HostSigningKey.objects.order_by("pk").first()
    return row


def signing_key() -> RSAKey:
    row = signing_row()
    return RSAKey.import_key(row.private_jwk, parameters={"kid": row.kid})


def throwaway_key(kid: str) -> RSAKey:
    """A key nobody publishes, named `kid`: what a bad signature is made with."""
    key = RSAKey.generate_key(KEY_SIZE, parameters={"use": "sig", "alg": ALGORITHM}, private=True)
    return RSAKey.import_key(key.as_dict(private=True), parameters={"kid": kid})


def jwks() -> dict:
    """The public keys, as a JWK Set (RFC 7517 5): never a private part."""
    rows = list(HostSigningKey.objects.order_by("pk")) or [signing_row()]
    keys = [RSAKey.import_key(row.private_jwk, parameters={"kid": row.kid}) for row in rows]
    return KeySet(keys).as_dict(private=False)
