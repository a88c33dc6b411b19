"""The site's own accounts: connected by an operator, not by a member.

A claim's trigger on a shared resource (github-new-star on one repository) is deployed
once, on an account the site holds: Pipedream keeps it under the site's own external
user (PIPEDREAM_SITE_EXTERNAL_USER_ID). An operator connects it on Pipedream's hosted
Connect Link page; what the site records comes from Pipedream's accounts list for that
external user (`site_accounts_sync`), never from the browser that came back.
"""

import logging
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from connections import pipedream, signals
from connections.models import App, SiteAccount
from connections.services.accounts import account_fields, app_for_account, upstream_accounts
from connections.services.errors import upstream_failed

logger = logging.getLogger(__name__)

SITE_FIELDS = ("name", "healthy", "dead", "error", "upstream_created_at", "last_synced_at")


def site_external_user_id() -> str:
    return settings.PIPEDREAM_SITE_EXTERNAL_USER_ID


def site_connect_link(*, app: App) -> str:
    """A Connect Link for the site's external user and `app`; coming back lands on the
    admin's Site accounts page, which syncs from Pipedream. Nothing is written here."""
    back = settings.PUBLIC_URL + reverse("admin:connections_siteaccount_returned")
    try:
        token = pipedream.get_client().create_connect_token(
            external_user_id=site_external_user_id(),
            success_redirect_uri=f"{back}?{urlencode({'app': app.slug, 'result': 'success'})}",
            error_redirect_uri=f"{back}?{urlencode({'app': app.slug, 'result': 'error'})}",
        )
    except pipedream.PipedreamError as exc:
        raise upstream_failed(exc, f"create a Connect token for the site's {app.slug}") from exc
    return pipedream.connect_link_url(
        token.connect_link_url, app=app.slug, oauth_app_id=app.oauth_app_id or None
    )


@dataclass
class SiteSyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    apps: set[str] = field(default_factory=set)  # apps whose site account changed

    def __str__(self) -> str:
        return f"{len(self.created)} new, {len(self.updated)} updated, {len(self.removed)} removed"


def site_accounts_sync(*, announce_all: bool = False) -> SiteSyncResult:
    """Make the site's accounts match Pipedream's list for the site's external user.

    Sends `site_accounts_changed(app_slugs)` on commit when any app's accounts changed
    (with `announce_all`, every app the site holds an account of), so claims move their
    shared triggers onto the account now in use, or deploy them where missing."""
    external_id = site_external_user_id()
    upstream = upstream_accounts(external_id, whose="the site's")
    result = SiteSyncResult()
    now = timezone.now()
    with transaction.atomic():
        local = {a.pipedream_id: a for a in SiteAccount.objects.select_related("app")}
        seen = set()
        for data in upstream:
            if data.get("external_id") not in (None, external_id):
                continue  # never anyone else's account
            try:
                app = app_for_account(data)
            except pipedream.InvalidResponse:
                continue
            given = account_fields(data, now)
            fields = {name: given[name] for name in SITE_FIELDS}
            seen.add(data["id"])
            account = local.get(data["id"])
            if account is None:
                SiteAccount.objects.create(pipedream_id=data["id"], app=app, **fields)
                result.created.append(data["id"])
                result.apps.add(app.slug)
                continue
            changed = [n for n in SITE_FIELDS[:-1] if getattr(account, n) != fields[n]]
            SiteAccount.objects.filter(pk=account.pk).update(**fields)
            if changed:
                result.updated.append(data["id"])
                if {"healthy", "dead"} & set(changed):
                    result.apps.add(app.slug)
        for pid, account in local.items():
            if pid not in seen:
                account.delete()
                result.removed.append(pid)
                result.apps.add(account.app.slug)
        if announce_all:
            result.apps |= set(SiteAccount.objects.values_list("app__slug", flat=True))
        if result.apps:
            slugs = sorted(result.apps)
            transaction.on_commit(
                lambda: signals.site_accounts_changed.send(sender=SiteAccount, app_slugs=slugs)
            )
    if result.created or result.updated or result.removed:
        logger.info("Synced the site's accounts: %s", result)
    return result


def site_account_for(app_slug: str) -> SiteAccount | None:
    """The site's account a shared trigger of `app_slug` runs on: the most recently
    created one that is usable (Pipedream's own rule for several accounts of an app)."""
    return SiteAccount.objects.filter(app__slug=app_slug).usable().newest_first().first()


def site_account_disconnect(*, account: SiteAccount) -> None:
    """Delete the account at Pipedream first (gone already is fine), then here."""
    try:
        pipedream.get_client().delete_account(account.pipedream_id)
    except pipedream.NotFound:
        pass
    except pipedream.PipedreamError as exc:
        raise upstream_failed(exc, "disconnect the site's account") from exc
    slug = account.app.slug
    account.delete()
    transaction.on_commit(
        lambda: signals.site_accounts_changed.send(sender=SiteAccount, app_slugs=[slug])
    )
