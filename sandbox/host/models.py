"""The host site's identity provider: its members, its OAuth clients, the codes and tokens
it issues, and the key that signs its id_tokens.

Codes and access tokens are random strings kept only as their SHA-256 (they are long and
random, so a plain hash is enough); a client secret is kept as its SHA-256 too, as the
sandbox's BitBadges apps are. The signing key is the one secret kept whole: it is the
sandbox's own, generated once on this machine, and signs nothing anyone else trusts.

The client, code and token classes carry the methods Authlib's server calls on them
(ClientMixin, AuthorizationCodeMixin, TokenMixin): sandbox/host/server.py.
"""

import hashlib
import secrets

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin
from django.db import models
from django.utils import timezone

# What this provider knows how to do; the client's own lists are subsets of these.
SCOPES = ("openid", "email", "profile")
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class HostMember(models.Model):
    """A member of the host site: who signs on. `sub` is the stable id the site gets."""

    sub = models.CharField(max_length=255, unique=True)
    username = models.CharField(max_length=150, unique=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    email_verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return self.username


class HostClient(ClientMixin, models.Model):
    """A site registered with the host's provider (a relying party)."""

    client_id = models.CharField(max_length=200, unique=True)
    client_secret_hash = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    redirect_uris = models.JSONField(default=list)
    token_endpoint_auth_methods = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return self.client_id

    # --- Authlib's ClientMixin ---

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        # OpenID Connect Core 3.1.2.1: redirect_uri is REQUIRED; there is no default.
        return None

    def get_allowed_scope(self, scope):
        """The requested scopes this provider has, in the order asked; None (invalid_scope)
        when none was asked (RFC 6749 3.3: fail rather than guess)."""
        if not scope:
            return None
        return " ".join(dict.fromkeys(item for item in scope.split() if item in SCOPES))

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(sha256_hex(client_secret), self.client_secret_hash)

    def check_endpoint_auth_method(self, method, endpoint):
        return endpoint == "token" and method in self.token_endpoint_auth_methods

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


class HostAuthorizationCode(AuthorizationCodeMixin, models.Model):
    """A one-time code: bound to its client, member, redirect URI, nonce and PKCE challenge."""

    code_hash = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(HostClient, on_delete=models.CASCADE, related_name="codes")
    member = models.ForeignKey(HostMember, on_delete=models.CASCADE, related_name="codes")
    redirect_uri = models.TextField()
    scope = models.TextField(blank=True)
    nonce = models.TextField(blank=True)
    code_challenge = models.CharField(max_length=128, blank=True)
    code_challenge_method = models.CharField(max_length=10, blank=True)
    auth_time = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"code for {self.member_id} at {self.client_id}"

    # --- Authlib's AuthorizationCodeMixin (OpenID Connect's) ---

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce or None

    def get_auth_time(self):
        return int(self.auth_time.timestamp())


class HostToken(TokenMixin, models.Model):
    """An access token (Bearer) for the userinfo endpoint."""

    access_token_hash = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(HostClient, on_delete=models.CASCADE, related_name="tokens")
    member = models.ForeignKey(HostMember, on_delete=models.CASCADE, related_name="tokens")
    code = models.ForeignKey(
        HostAuthorizationCode,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tokens",
    )
    scope = models.TextField(blank=True)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"token for {self.member_id} at {self.client_id}"

    # --- Authlib's TokenMixin ---

    def check_client(self, client):
        return client.pk == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_expired(self):
        return self.expires_at <= timezone.now()

    def is_revoked(self):
        return self.revoked_at is not None

    def get_user(self):
        return self.member

    def get_client(self):
        return self.client


class HostSigningKey(models.Model):
    """The RSA key that signs id_tokens (RS256), as a private JWK; `kid` is its RFC 7638
    thumbprint. Made once (sandbox/host/keys.py); every key here is published in the JWKS."""

    kid = models.CharField(max_length=100, unique=True)
    private_jwk = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return self.kid
