"""The emulated BitBadges' URLs, under /sandbox/bitbadges/ (namespace sandbox:bitbadges).

This is what BITBADGES_API_URL points at in sandbox mode: the BitBadges API under
api/v0/ (and api/v1/ for the batch claim fetch).
"""

from django.urls import path, re_path

from sandbox.bitbadges import siwbb_views
from sandbox.bitbadges import views as bb

app_name = "bitbadges"

# Paths as on api.bitbadges.io (no trailing slashes); anything else is a JSON 404.
urlpatterns = [
    path(
        "api/v0/claims/complete/<str:claim_id>/<str:address>",
        bb.by_method(POST=bb.claims_complete),
        name="claims-complete",
    ),
    path(
        "api/v0/claims/simulate/<str:claim_id>/<str:address>",
        bb.by_method(POST=bb.claims_simulate),
        name="claims-simulate",
    ),
    path(
        "api/v0/claims/status/<str:attempt_id>",
        bb.by_method(GET=bb.claims_status, POST=bb.claims_status),
        name="claims-status",
    ),
    path(
        "api/v0/claims/<str:claim_id>/attempts",
        bb.by_method(GET=bb.claims_attempts),
        name="claims-attempts",
    ),
    # Removed from BitBadges: a JSON 404 unless SANDBOX_BITBADGES_SUCCESS_ROUTE is on.
    path(
        "api/v0/claims/success/<str:claim_id>/<str:address>",
        bb.by_method(GET=bb.claims_success_route),
        name="claims-success",
    ),
    path("api/v0/claim/<str:claim_id>", bb.by_method(GET=bb.claim_get), name="claim"),
    path("api/v1/claims/fetch", bb.by_method(POST=bb.claims_fetch), name="claims-fetch"),
    path("api/v0/claims/fetch", bb.by_method(POST=bb.claims_fetch), name="claims-fetch-v0"),
    path(
        "api/v0/storeActions/single",
        bb.by_method(POST=bb.store_action_single),
        name="store-single",
    ),
    path("api/v0/storeActions/batch", bb.by_method(POST=bb.store_action_batch), name="store-batch"),
    path(
        "api/v0/storeActions/<str:action>/<str:store_id>/<str:secret>",
        bb.by_method(POST=bb.store_action_legacy),
        name="store-legacy",
    ),
    path(
        "api/v0/dynamicStore/<str:store_id>/value",
        bb.by_method(GET=bb.store_value),
        name="store-value",
    ),
    path("api/v0/siwbb/token", bb.by_method(POST=siwbb_views.token), name="siwbb-token"),
    path("api/v0/siwbb/token/revoke", bb.by_method(POST=siwbb_views.revoke), name="siwbb-revoke"),
    # Not the API: the stand-in for https://bitbadges.io/siwbb/authorize (Sign In with BitBadges).
    path("siwbb/authorize", siwbb_views.authorize, name="siwbb-authorize"),
    path("images/<str:claim_id>.png", bb.claim_image, name="claim-image"),
    # Not the API: the stand-in for the claim's page on bitbadges.io ("View on BitBadges").
    path("claims/<str:claim_id>", bb.claim_page, name="claim-page"),
    re_path(r"^.*$", bb.not_found),
]
