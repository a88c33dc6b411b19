"""Sign-on from the host site: allauth's OpenID Connect views under /auth/oidc/."""

urlpatterns: list = []
