"""Sign-on from the host site: its members log in here through its own OpenID Connect
provider (django-allauth's openid_connect provider, app provider_id PROVIDER_ID)."""

# allauth's provider_id of the host site's OpenID Connect app: SocialAccount.provider of
# every host-site login, and the path /auth/oidc/host/login/callback/ (a contract).
PROVIDER_ID = "host"

# The `process` of a "Confirm with ..." flow, for both providers (users/siwbb/reauth.py
# reads it from here: users.siwbb depends on users.hostsso, never the other way).
REAUTHENTICATE = "reauthenticate"
