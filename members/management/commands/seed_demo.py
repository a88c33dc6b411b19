"""Seed the demo: members alice and bob, the admin, the demo apps and claims. Safe to re-run.

`make run` runs it after `migrate` (and, with the sandbox on, after the sandbox's own
`sandbox_setup`). Existing rows are brought back to the demo state (passwords excepted:
a changed password is left alone), never duplicated. It writes in one transaction: a
problem leaves the database as it was.

Where the demo's upstream comes from:
- With the sandbox on (or --demo-file given): from the demo file that the sandbox's
  `manage.py sandbox_setup` writes (settings.SANDBOX_DEMO_FILE unless --demo-file names
  another). It holds the demo apps' catalogue entries and the upstream BitBadges claims
  behind the demo claims; the product never imports the sandbox, so this file is how
  the two meet. Its format is described in sandbox/demo.py; this command checks what it
  reads and names the first thing wrong.
- Otherwise (real Pipedream): the apps are fetched from Pipedream, and the demo claims
  are skipped (they need upstream BitBadges claims; define real ones in the admin).
"""

import datetime
import json
from pathlib import Path

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from claims import audit
from claims.models import Claim, Requirement
from claims.tasks import claims_life_read_task
from connections import pipedream
from connections.models import App
from connections.services import app_upsert_from_pipedream
from connections.tasks import site_accounts_sync_task

DEMO_PASSWORD = "connect-demo"
DEMO_MEMBERS = [
    # username, email, first name, BitBadges address, staff
    ("alice", "alice@example.com", "Alice", "0x742d35cC6634c0532925A3b844bc9E7595F0beB1", False),
    ("bob", "bob@example.com", "Bob", "", False),
    ("admin", "admin@example.com", "Admin", "", True),
]
DEMO_APPS = ["github", "slack", "google_sheets", "discord", "gitlab", "notion"]

# The demo file: what this command reads of it (see sandbox/demo.py for the whole).
DEMO_FILE_FORMAT = "connect-and-claim/sandbox-demo"
DEMO_FILE_VERSION = 1
DEMO_FILE_MAX_BYTES = 1024 * 1024  # the sandbox writes about 10 KB
DEMO_FILE_CLAIMS = {
    "github-starter": ("claim_id", "password_instance_id", "password"),
    "store-members": ("claim_id", "store_id", "store_secret"),
    "workflow-github": ("claim_id", "workflow_url_path"),
    "star": ("claim_id", "password_instance_id", "password", "repo"),
}
RUN_SANDBOX_SETUP = "Run `python manage.py sandbox_setup` to write it (make run does)."


class Command(BaseCommand):
    help = (
        "Create (or refresh) the demo members alice, bob and admin, the demo apps and, with "
        "the sandbox's demo file, one demo claim per delivery method backed by its BitBadges."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--demo-file",
            type=Path,
            help="The sandbox's demo file (written by its sandbox_setup command). Default: "
            "settings.SANDBOX_DEMO_FILE when the sandbox is on; none otherwise.",
        )

    def handle(self, *args, demo_file=None, **options):
        if not settings.DEBUG and not settings.ALLOW_SANDBOX_WITHOUT_DEBUG:
            raise CommandError(
                f"seed_demo makes the members {', '.join(m[0] for m in DEMO_MEMBERS)} with the "
                f"published password {DEMO_PASSWORD!r} (admin is staff), so it runs only with "
                "DEBUG on. On a machine nobody else reaches (tests, benchmarks), set "
                "ALLOW_SANDBOX_WITHOUT_DEBUG=true. Nothing was changed."
            )
        if demo_file is None and settings.SANDBOX:
            demo_file = settings.SANDBOX_DEMO_FILE
        demo_file = Path(demo_file) if demo_file else None  # a str from call_command
        demo = demo_file_read(demo_file) if demo_file else None
        apps = demo_apps(demo, demo_file) if demo else self._apps_from_pipedream()
        try:
            with transaction.atomic():
                for username, email, first_name, address, staff in DEMO_MEMBERS:
                    self._member(username, email, first_name, address, staff)
                self._apps(apps)
                self._claims(demo)
        except ValidationError as exc:
            raise CommandError(
                f"The demo file {demo_file} holds a claim this site refuses: "
                f"{'; '.join(m.rstrip('.') for m in exc.messages)}. Nothing was changed. "
                f"{RUN_SANDBOX_SETUP}"
            ) from exc
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

    def _apps(self, apps: list[dict]) -> None:
        for order, data in enumerate(apps):
            app, created = app_upsert_from_pipedream(data=data, enabled=True, order=order)
            self.stdout.write(f"{'Created' if created else 'Refreshed'} app {app.slug}")

    def _apps_from_pipedream(self) -> list[dict]:
        client = pipedream.get_client()
        try:
            return [client.get_app(slug) for slug in DEMO_APPS]
        except pipedream.PipedreamError as exc:
            raise CommandError(f"Could not fetch the demo apps from Pipedream: {exc}") from exc

    def _claims(self, demo: dict | None) -> None:
        if demo is None:
            self.stdout.write(
                "Demo claims skipped: they need the sandbox's BitBadges claims. "
                "Define real claims in the admin."
            )
            return
        shared = False
        claim_ids = []
        for spec in demo_claim_specs(demo["claims"]):
            claim, created = _claim_upsert(spec)
            self.stdout.write(f"{'Created' if created else 'Refreshed'} claim {claim.slug}")
            shared |= claim.trigger_scope == Claim.TriggerScope.SITE
            claim_ids.append(claim.pk)
        # Once the worker runs and the sandbox answers: each claim's life and badge (its
        # name and picture) as BitBadges gives them, as the scheduler's round would.
        transaction.on_commit(
            lambda: claims_life_read_task.using(
                run_after=timezone.now() + datetime.timedelta(seconds=2)
            ).enqueue(claim_ids)
        )
        self.stdout.write("Queued: read each claim's life and badge from BitBadges.")
        if shared:
            # Once the worker runs (and the sandbox answers): the site's accounts are read
            # from Pipedream, and the shared triggers deployed on them where missing.
            transaction.on_commit(
                lambda: site_accounts_sync_task.using(
                    run_after=timezone.now() + datetime.timedelta(seconds=2)
                ).enqueue(announce_all=True)
            )
            self.stdout.write(
                "Queued: read the site's accounts from Pipedream, then deploy the claims' "
                "triggers on them (the task worker does it; manage.py site_accounts lists them)."
            )


def demo_file_read(path: Path) -> dict:
    """The demo file's contents, checked; a CommandError a person can act on otherwise."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CommandError(
            f"There is no demo file at {path}: the sandbox writes it. {RUN_SANDBOX_SETUP}"
        ) from None
    except OSError as exc:
        raise CommandError(f"Cannot read the demo file {path}: {exc.strerror or exc}.") from exc
    if path.is_dir():
        raise CommandError(f"The demo file {path} is a directory; name the file itself.")
    if size > DEMO_FILE_MAX_BYTES:
        raise CommandError(
            f"The demo file {path} is {size} bytes, more than a demo file's "
            f"{DEMO_FILE_MAX_BYTES}: it is not the sandbox's. {RUN_SANDBOX_SETUP}"
        )
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise CommandError(f"Cannot read the demo file {path}: {exc.strerror or exc}.") from exc
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise CommandError(
            f"The demo file {path} is not valid JSON ({exc}). {RUN_SANDBOX_SETUP}"
        ) from exc
    problem = _demo_problem(data)
    if problem:
        raise CommandError(f"The demo file {path} is not usable: {problem}. {RUN_SANDBOX_SETUP}")
    return data


def _demo_problem(data) -> str:
    """What is wrong with the demo file's contents, or ""."""
    if not isinstance(data, dict):
        return f"it holds a {type(data).__name__}, not a JSON object"
    if data.get("format") != DEMO_FILE_FORMAT:
        return f"its format is {data.get('format')!r}, not {DEMO_FILE_FORMAT!r}"
    if data.get("version") != DEMO_FILE_VERSION:
        return f"it is version {data.get('version')!r}; this seed reads version {DEMO_FILE_VERSION}"
    apps = data.get("apps")
    if not isinstance(apps, list) or not all(isinstance(app, dict) for app in apps):
        return '"apps" is not a list of objects'
    for index, app in enumerate(apps):
        for key in ("name_slug", "name"):
            if not isinstance(app.get(key), str) or not app[key]:
                return f"apps[{index}].{key} is missing or not a string"
    claims = data.get("claims")
    if not isinstance(claims, dict):
        return '"claims" is not an object'
    for name, keys in DEMO_FILE_CLAIMS.items():
        claim = claims.get(name)
        if not isinstance(claim, dict):
            return f"claims.{name} is missing"
        for key in keys:
            if not isinstance(claim.get(key), str) or not claim[key]:
                return f"claims.{name}.{key} is missing or not a string"
    if not claims["workflow-github"]["workflow_url_path"].startswith("/"):
        return "claims.workflow-github.workflow_url_path does not start with /"
    return ""


def demo_apps(demo: dict, path: Path) -> list[dict]:
    """The demo apps' catalogue entries from the demo file, in the demo's order."""
    by_slug = {app["name_slug"]: app for app in demo["apps"]}
    missing = [slug for slug in DEMO_APPS if slug not in by_slug]
    if missing:
        raise CommandError(
            f"The demo file {path} has no app {', '.join(missing)}. {RUN_SANDBOX_SETUP}"
        )
    return [by_slug[slug] for slug in DEMO_APPS]


def _email_verified(user, email: str) -> None:
    """The demo members' addresses count as confirmed (connecting needs one)."""
    address, _ = EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    EmailAddress.objects.filter(user=user, primary=True).exclude(pk=address.pk).update(
        primary=False
    )


def demo_claim_specs(upstream: dict) -> list[dict]:
    """One demo claim per delivery method, each backed by a claim in the BitBadges sandbox,
    and the event-driven stargazers' claim when `upstream` has its "star"."""
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
                # Pipedream's action answers {user, organizations, teams}.
                "action": "github-get-current-user",
                "path": "user.public_repos",
                "comparison": "gte",
                "value": "5",
                "text": "Have at least 5 public repositories",
                "link": "https://github.com/new",
                "identity_path": "user.login",
            },
            # A member's repositories grow: asked again by itself, daily at first.
            "recheck_interval": datetime.timedelta(days=1),
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
        star = upstream["star"]
        repo = star["repo"]
        specs.append(
            {
                "slug": "stargazer",
                "name": "Stargazer badge",
                "description": f"Star {repo} on GitHub. We watch for it: the "
                "badge arrives the moment you do, no need to come back. (In the sandbox: "
                "on the Sandbox page, pick your GitHub login under Star as, then Emit event.)",
                "bitbadges_claim_id": star["claim_id"],
                "delivery": "bitbadges",
                "password_instance_id": star["password_instance_id"],
                "password": star["password"],
                "apps": ["github"],
                "criterion": {
                    "app": "github",
                    "proxy_url": f"https://api.github.com/user/starred/{repo}",
                    "path": "$status",
                    "comparison": "eq",
                    "value": "204",
                    "text": f"Star {repo}",
                    "link": f"https://github.com/{repo}",
                },
                # Pipedream's trigger names the repository in its prop repoFullname.
                # It fires on anyone's star of the repository: deployed once, on the
                # site's account (the sandbox's demo holds one that owns bitbadges/*).
                "trigger": "github-new-star",
                "trigger_scope": "site",
                "trigger_props": {"repoFullname": repo},
                "trigger_event_label": f"you star {repo}",
                "recheck_interval": datetime.timedelta(days=1),
            }
        )
    return specs


def _requirement_specs(spec: dict) -> list[dict]:
    """A demo claim's requirements: a healthy account of each of its apps, except the
    app its check runs on (the check needs that account anyway), then the check."""
    criterion = spec.get("criterion") or {}
    found = [
        {"app": slug, "kind": Requirement.Kind.ACCOUNT}
        for slug in spec["apps"]
        if slug != criterion.get("app")
    ]
    if criterion:
        found.append(
            {
                "app": criterion["app"],
                "kind": Requirement.Kind.PROXY
                if criterion.get("proxy_url")
                else Requirement.Kind.ACTION,
                "action": criterion.get("action", ""),
                "proxy_url": criterion.get("proxy_url", ""),
                "path": criterion.get("path", ""),
                "comparison": criterion.get("comparison", ""),
                "value": criterion.get("value", ""),
                "text": criterion.get("text", ""),
                "link": criterion.get("link", ""),
                "identity_path": criterion.get("identity_path", ""),
            }
        )
    return found


def _requirements_upsert(claim, spec: dict) -> None:
    """The claim's requirements as the spec says, kept in place (their evidence keys stay)."""
    existing = list(claim.requirements.order_by("position", "pk"))
    wanted = _requirement_specs(spec)
    for position, fields in enumerate(wanted):
        requirement = existing[position] if position < len(existing) else Requirement(claim=claim)
        defaults = {f.name: f.get_default() for f in Requirement._meta.concrete_fields}
        for name in ("action", "props", "proxy_url", "path", "comparison", "value", "text", "link"):
            setattr(requirement, name, defaults[name])
        requirement.identity_path = ""
        requirement.group = Requirement.Group.ALL
        requirement.position = position
        for name, value in fields.items():
            if name == "app":
                requirement.app = App.objects.get(slug=value)
            else:
                setattr(requirement, name, value)
        requirement.full_clean(exclude=["claim"])
        requirement.save()
    for requirement in existing[len(wanted) :]:
        requirement.delete()


def _claim_upsert(spec: dict):
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
        "trigger_app": App.objects.get(slug=criterion["app"]) if spec.get("trigger") else None,
        "trigger": spec.get("trigger", ""),
        "trigger_scope": spec.get("trigger_scope", Claim.TriggerScope.MEMBER),
        "trigger_props": spec.get("trigger_props", {}),
        "trigger_event_label": spec.get("trigger_event_label", ""),
        "recheck_interval": spec.get("recheck_interval"),
    }
    with transaction.atomic():
        claim, created = Claim.objects.get_or_create(slug=spec["slug"], defaults=fields)
        before = {} if created else audit.rules_snapshot(claim)
        for name, value in fields.items():
            setattr(claim, name, value)
        claim.set_password(spec.get("password", ""))
        claim.set_store_secret(spec.get("store_secret", ""))
        claim.full_clean()
        claim.save()
        _requirements_upsert(claim, spec)
        audit.rule_change_record(claim, before, audit.Actor.command("seed_demo"))
    return claim, created
