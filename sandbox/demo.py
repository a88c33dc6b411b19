"""The sandbox's side of the demo: the upstream it creates and the file it hands over.

`manage.py sandbox_setup` (which `make run` calls) creates the demo's upstream in the
emulated BitBadges (the demo claims, their dynamic store, the stargazers' claim; fixed
ids, so a second run finds them) and writes what `demo_ensure()` returns as JSON to a
file, by default settings.SANDBOX_DEMO_FILE. The product's `manage.py seed_demo` reads
that file: the product never imports the sandbox, so the file is the whole boundary.

The file (UTF-8 JSON, version 1):

    {"format": "connect-and-claim/sandbox-demo",
     "version": 1,
     "apps": [App objects as the sandbox's GET /v1/connect/apps/{app} answers them,
              one per app of its catalogue: {"name_slug", "name", "img_src", ...}],
     "claims": {
       "github-starter":  {"claim_id", "password_instance_id", "password"},
       "store-members":   {"claim_id", "store_id", "store_secret"},
       "workflow-github": {"claim_id", "password_instance_id", "password",
                           "workflow_url_path"},   # below PUBLIC_URL
       "star":            {"claim_id", "password_instance_id", "password",
                           "repo"}}}               # the GitHub repo to star

It also gives the site (Pipedream's external user PIPEDREAM_SITE_EXTERNAL_USER_ID, in the
sandbox's project and development environment) a GitHub account, `bitbadges`, that owns
the demo repository: the stargazers' claim deploys its trigger on it. The product learns
of it the way it would at Pipedream, from the accounts list, not from this file.

Every value is a string. The secrets in it are the sandbox's own: they open nothing real.
"""

from django.conf import settings
from django.db import transaction

from sandbox.bitbadges import demo as bb_demo
from sandbox.credentials import SANDBOX_CREDENTIALS
from sandbox.pipedream import catalogue
from sandbox.pipedream import services as pd_services
from sandbox.pipedream.models import Account

FORMAT = "connect-and-claim/sandbox-demo"
VERSION = 1


def demo_ensure() -> dict:
    """Create the demo's upstream where it is missing; what the demo file holds.

    Idempotent: existing demo claims and the store are left as they are (their uses too).
    """
    with transaction.atomic():
        claims = bb_demo.demo_claims_ensure()
        star = bb_demo.demo_star_claim_ensure()
        site_account_ensure()
    claims["star"] = {**star, "repo": catalogue.DEMO_STARRED_REPO}
    return {
        "format": FORMAT,
        "version": VERSION,
        "apps": [catalogue.get_catalogue_app(slug) for slug in catalogue.APPS],
        "claims": claims,
    }


SITE_GITHUB_LOGIN = catalogue.DEMO_STARRED_REPO.split("/", 1)[0]  # owns the demo repository


def site_account_ensure() -> Account:
    """The site's GitHub account in the sandbox's project (development), made once."""
    project_id = SANDBOX_CREDENTIALS["project_id"]
    external_id = getattr(settings, "PIPEDREAM_SITE_EXTERNAL_USER_ID", "site")
    pd_services.external_user_admit(
        project_id=project_id, environment="development", external_id=external_id
    )
    user = pd_services.external_user_get_or_create(
        project_id=project_id, environment="development", external_id=external_id
    )
    account = Account.objects.filter(user=user, app_slug="github", name=SITE_GITHUB_LOGIN).first()
    if account is None:
        account = pd_services.account_create(user=user, app_slug="github", name=SITE_GITHUB_LOGIN)
    return account
