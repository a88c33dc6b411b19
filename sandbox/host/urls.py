"""The host site's OpenID Connect provider, under /sandbox/host/ (namespace sandbox:host).

The issuer is PUBLIC_URL + "/sandbox/host"; its discovery document sits at the issuer +
"/.well-known/openid-configuration" (OpenID Connect Discovery 1.0 section 4).
"""

from django.urls import path

from sandbox.host import views

app_name = "host"

urlpatterns = [
    path(
        ".well-known/openid-configuration",
        views.openid_configuration,
        name="openid-configuration",
    ),
    path("jwks", views.jwks, name="jwks"),
    path("authorize", views.authorize, name="authorize"),
    path("token", views.token, name="token"),
    path("userinfo", views.userinfo, name="userinfo"),
    path("faults/id-token", views.id_token_fault_add, name="id-token-fault-add"),
]
