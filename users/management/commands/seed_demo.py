"""Seed the demo: members alice and bob, the admin, the demo apps and claims. Safe to re-run.

`make run` runs it after `migrate`. Existing rows are brought back to the demo state
(passwords excepted: a changed password is left alone), never duplicated.
"""

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

DEMO_PASSWORD = "connect-demo"
DEMO_MEMBERS = [
    # username, email, first name, BitBadges address, staff
    ("alice", "alice@example.com", "Alice", "0x742d35cC6634c0532925A3b844bc9E7595F0beB1", False),
    ("bob", "bob@example.com", "Bob", "", False),
    ("admin", "admin@example.com", "Admin", "", True),
]
DEMO_APPS = ["github", "slack", "google_sheets", "discord", "gitlab", "notion"]


class Command(BaseCommand):
    help = (
        "Create (or refresh) the demo members alice, bob and admin, the demo apps and, in "
        "sandbox mode, one demo claim per delivery method backed by the BitBadges sandbox."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            for username, email, first_name, address, staff in DEMO_MEMBERS:
                self._member(username, email, first_name, address, staff)
        self._apps()
        self._claims()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: log in as alice, bob or admin with the password {DEMO_PASSWORD!r}."
            )
        )

    def _member(self, username, email, first_name, address, staff):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"email": email, "first_name": first_name, "address": address},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
        user.email, user.first_name, user.address = email, first_name, address
        user.is_active = True
        user.is_staff = user.is_superuser = staff
        user.save()
        _email_verified(user, email)
        verb = "Created" if created else "Refreshed"
        self.stdout.write(f"{verb} {'admin' if staff else 'member'} {username}")

    def _apps(self):
        from connections.services import app_upsert_from_pipedream

        for order, data in enumerate(self._app_data()):
            app, created = app_upsert_from_pipedream(data=data, enabled=True, order=order)
            self.stdout.write(f"{'Created' if created else 'Refreshed'} app {app.slug}")

    def _app_data(self) -> list[dict]:
        if settings.SANDBOX:
            from sandbox.catalogue import get_catalogue_app

            return [get_catalogue_app(slug) for slug in DEMO_APPS]
        from connections import pipedream

        client = pipedream.get_client()
        try:
            return [client.get_app(slug) for slug in DEMO_APPS]
        except pipedream.PipedreamError as exc:
            raise CommandError(f"Could not fetch the demo apps from Pipedream: {exc}") from exc

    def _claims(self):
        if not settings.SANDBOX:
            self.stdout.write(
                "Demo claims skipped: they need the sandbox's BitBadges claims. "
                "Define real claims in the admin."
            )
            return
        from sandbox.bitbadges import demo_claims_ensure

        upstream = demo_claims_ensure()
        upstream["star"] = _star_claim_ensure()
        for spec in demo_claim_specs(upstream):
            claim, created = _claim_upsert(spec)
            self.stdout.write(f"{'Created' if created else 'Refreshed'} claim {claim.slug}")


def _email_verified(user, email: str) -> None:
    """The demo members' addresses count as confirmed (connecting needs one)."""
    from allauth.account.models import EmailAddress

    address, _ = EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    EmailAddress.objects.filter(user=user, primary=True).exclude(pk=address.pk).update(
        primary=False
    )


STAR_CLAIM = {"claim_id": "5a4dbb0000000000000000000000a004", "password": "sandbox-star"}


def _star_claim_ensure() -> dict:
    """The BitBadges sandbox claim behind the event-driven demo claim."""
    from sandbox.bitbadges import claim_create
    from sandbox.models import BitBadgesClaim

    if not BitBadgesClaim.objects.filter(claim_id=STAR_CLAIM["claim_id"]).exists():
        claim_create(
            claim_id=STAR_CLAIM["claim_id"],
            label="Stargazers (password-gated)",
            max_uses=1_000_000,
            password=STAR_CLAIM["password"],
        )
    return {**STAR_CLAIM, "password_instance_id": "pwd"}


def demo_claim_specs(upstream: dict) -> list[dict]:
    """One demo claim per delivery method, each backed by a claim in the BitBadges sandbox."""
    starter, members, workflow = (
        upstream["github-starter"],
        upstream["store-members"],
        upstream["workflow-github"],
    )
    specs = [
        {
            "slug": "github-starter",
            "name": "GitHub starter badge",
            "description": "Connect a GitHub account. That is all: the badge is yours seconds later.",
            "bitbadges_claim_id": starter["claim_id"],
            "delivery": "bitbadges",
            "password_instance_id": starter["password_instance_id"],
            "password": starter["password"],
            "apps": ["github"],
        },
        {
            "slug": "github-builders",
            "name": "GitHub builders list",
            "description": "For builders with at least 5 public repositories: your address joins "
            "the list that unlocks the Builders badge on BitBadges. One per GitHub account.",
            "bitbadges_claim_id": members["claim_id"],
            "delivery": "dynamic_store",
            "store_id": members["store_id"],
            "store_secret": members["store_secret"],
            "apps": ["github"],
            "criterion": {
                "app": "github",
                "action": "github-get-current-user",
                "path": "public_repos",
                "comparison": "gte",
                "value": "5",
                "identity_path": "login",
            },
        },
        {
            "slug": "github-workflow",
            "name": "GitHub workflow badge",
            "description": "A Pipedream workflow checks your GitHub account and completes the "
            "claim itself.",
            "bitbadges_claim_id": workflow["claim_id"],
            "delivery": "workflow",
            "workflow_url": settings.PUBLIC_URL + workflow["workflow_url_path"],
            "apps": ["github"],
        },
    ]
    if "star" in upstream:
        from sandbox.catalogue import DEMO_STARRED_REPO

        star = upstream["star"]
        specs.append(
            {
                "slug": "stargazer",
                "name": "Stargazer badge",
                "description": f"Star {DEMO_STARRED_REPO} on GitHub. We watch for it: the "
                "badge arrives the moment you do, no need to come back. (In the sandbox, "
                "press Emit event on the Sandbox page.)",
                "bitbadges_claim_id": star["claim_id"],
                "delivery": "bitbadges",
                "password_instance_id": star["password_instance_id"],
                "password": star["password"],
                "apps": ["github"],
                "criterion": {
                    "app": "github",
                    "proxy_url": f"https://api.github.com/user/starred/{DEMO_STARRED_REPO}",
                    "path": "$status",
                    "comparison": "eq",
                    "value": "204",
                    "text": f"You starred {DEMO_STARRED_REPO}",
                },
                "trigger": "github-new-star",
                "trigger_props": {"repo": DEMO_STARRED_REPO},
                "trigger_event_label": f"you star {DEMO_STARRED_REPO}",
                "recheck_interval": datetime.timedelta(days=1),
            }
        )
    return specs


def _claim_upsert(spec: dict):
    from claims.models import Claim
    from connections.models import App

    criterion = spec.get("criterion") or {}
    fields = {
        "name": spec["name"],
        "description": spec["description"],
        "bitbadges_claim_id": spec["bitbadges_claim_id"],
        "delivery": spec["delivery"],
        "password_instance_id": spec.get("password_instance_id", ""),
        "store_id": spec.get("store_id", ""),
        "workflow_url": spec.get("workflow_url", ""),
        "enabled": True,
        "criterion_app": App.objects.get(slug=criterion["app"]) if criterion else None,
        "criterion_action": criterion.get("action", ""),
        "criterion_proxy_url": criterion.get("proxy_url", ""),
        "criterion_text": criterion.get("text", ""),
        "trigger": spec.get("trigger", ""),
        "trigger_props": spec.get("trigger_props", {}),
        "trigger_event_label": spec.get("trigger_event_label", ""),
        "recheck_interval": spec.get("recheck_interval"),
        "criterion_path": criterion.get("path", ""),
        "criterion_comparison": criterion.get("comparison", ""),
        "criterion_value": criterion.get("value", ""),
        "identity_path": criterion.get("identity_path", ""),
    }
    with transaction.atomic():
        claim, created = Claim.objects.get_or_create(slug=spec["slug"], defaults=fields)
        for name, value in fields.items():
            setattr(claim, name, value)
        claim.set_password(spec.get("password", ""))
        claim.set_store_secret(spec.get("store_secret", ""))
        claim.full_clean()
        claim.save()
        claim.required_apps.set(App.objects.filter(slug__in=spec["apps"]))
    return claim, created
