"""The claim the trigger tests share: "star the repository", checked through the proxy
($status 204 from GET /user/starred/{repo}) and woken by github-new-star."""

from claims.models import Claim
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.pipedream.catalogue import DEMO_STARRED_REPO
from tests.claims.claims_support import add_check

STAR_URL = f"https://api.github.com/user/starred/{DEMO_STARRED_REPO}"


def star_claim(github, *, slug="star-the-repo", name="Star the repository", **fields) -> Claim:
    """Saved (and validated), with a BitBadges claim in the sandbox behind it; `fields`
    override the defaults (enabled, trigger_scope, recheck_interval, ...)."""
    upstream = bb_sandbox_claims.claim_create(max_uses=100, password="pw")
    values = {
        "delivery": "bitbadges",
        "bitbadges_claim_id": upstream.claim_id,
        "password_instance_id": "pwd",
        "enabled": True,
        "trigger_app": github,
        "trigger": "github-new-star",
        "trigger_props": {"repoFullname": DEMO_STARRED_REPO},
        **fields,
    }
    claim = Claim(slug=slug, name=name, **values)
    claim.set_password("pw")
    claim.full_clean()
    claim.save()
    add_check(claim, github, proxy_url=STAR_URL, path="$status", comparison="eq", value="204")
    return claim
