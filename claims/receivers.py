"""Claims listen to connections' signals (connections never imports claims).

The signals are sent on commit; each receiver only records a request for a check and
queues the task, so a slow upstream never holds up the request that connected an account.
"""

from allauth.account.signals import email_confirmed
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from claims import services, triggers
from claims.audit import Actor
from claims.models import Claim, Requirement
from claims.tasks import claim_triggers_sync_task, trigger_deploy_task, trigger_remove_task
from connections.models import App
from connections.signals import (
    account_connected,
    account_disconnected,
    account_health_changed,
    site_accounts_changed,
)
from core import shared_version
from users.siwbb.signals import address_proven

# "No enabled claim needs or triggers on this app", the common case when an account is
# connected, known without a query. The slugs of the apps some enabled claim needs (a
# requirement) or runs its trigger on are kept per process under a version in the shared
# cache that every save or deletion of a claim, a requirement or an app replaces, at once
# (this transaction's own later signals see it) and again when its transaction commits
# (every other process does): on_app_interest_changed below. Nothing updates those
# models' columns read here by queryset (grep .update( / bulk_create: only a claim's
# badge and life readings, which no question here reads). Only "no claim wants this app"
# is trusted: for an app in the set the receivers run their queries as before.
INTEREST_VERSION_KEY = "claims:app-interest-version"
INTEREST_FIELDS = {
    Claim: {"enabled", "trigger", "trigger_app", "trigger_scope"},
    Requirement: {"claim", "app"},
    App: {"slug"},
}
_interest: shared_version.Kept[frozenset[str]] = shared_version.Kept(INTEREST_VERSION_KEY)


def wanted_app_slugs() -> frozenset[str] | None:
    """The slugs of the apps some enabled claim needs or triggers on; None when the
    shared version cannot be read (then nothing is known: run the queries)."""
    version, slugs = _interest.lookup()
    if version is None:  # a cache the processes do not share, or none readable
        return None
    if slugs is not shared_version.MISSING:
        return slugs
    # Read after the version: a change committed after this read replaces the version.
    enabled = Claim.objects.enabled()
    slugs = frozenset(
        [
            *Requirement.objects.filter(claim__in=enabled).values_list("app__slug", flat=True),
            *enabled.exclude(trigger="")
            .exclude(trigger_app=None)
            .values_list("trigger_app__slug", flat=True),
        ]
    )
    _interest.keep(version, slugs)
    return slugs


@receiver(post_save, sender=Claim, dispatch_uid="claims.interest_claim_saved")
@receiver(post_delete, sender=Claim, dispatch_uid="claims.interest_claim_deleted")
@receiver(post_save, sender=Requirement, dispatch_uid="claims.interest_requirement_saved")
@receiver(post_delete, sender=Requirement, dispatch_uid="claims.interest_requirement_deleted")
@receiver(post_save, sender=App, dispatch_uid="claims.interest_app_saved")
@receiver(post_delete, sender=App, dispatch_uid="claims.interest_app_deleted")
def on_app_interest_changed(sender, *, update_fields=None, **kwargs):
    if update_fields is not None and not (set(update_fields) & INTEREST_FIELDS[sender]):
        return  # a save of other columns only (a claim's life reading): nothing read here
    _interest.changed()


@receiver(account_connected, dispatch_uid="claims.account_connected")
def on_account_connected(sender, *, account, member, created=True, session=None, **kwargs):
    slug = account.app.slug
    wanted = wanted_app_slugs()
    if wanted is not None and slug not in wanted:
        return  # no enabled claim needs this app or runs a trigger on it
    services.requests_for_account(
        member=member, app_slug=slug, actor=Actor.signal("account connected")
    )
    _deploy_triggers(member=member, account=account)


def _deploy_triggers(*, member, account):
    if not account.usable:
        return
    for claim in triggers.claims_with_trigger_on(account.app.slug):
        trigger_deploy_task.enqueue(claim.pk, member.pk, account.pk)


@receiver(account_health_changed, dispatch_uid="claims.account_health_changed")
def on_account_health_changed(sender, *, account, member, previous, current, **kwargs):
    services.requests_for_account(
        member=member, app_slug=account.app.slug, actor=Actor.signal(f"account {current}")
    )


@receiver(account_disconnected, dispatch_uid="claims.account_disconnected")
def on_account_disconnected(sender, *, member, app_slug, pipedream_id=None, **kwargs):
    services.requests_for_account(
        member=member, app_slug=app_slug, actor=Actor.signal("account disconnected")
    )
    # Only the triggers running on that account: another account of the app keeps its own.
    for deployment in triggers.deployments_to_remove(
        member=member, account_pipedream_id=pipedream_id or ""
    ):
        trigger_remove_task.enqueue(deployment.pk)


@receiver(site_accounts_changed, dispatch_uid="claims.site_accounts_changed")
def on_site_accounts_changed(sender, *, app_slugs, **kwargs):
    """The site's account of an app changed: its claims' shared triggers follow it."""
    for claim in triggers.site_claims_on(app_slugs):
        claim_triggers_sync_task.enqueue(claim.pk)


@receiver(email_confirmed, dispatch_uid="claims.email_confirmed")
def on_email_confirmed(sender, *, request=None, email_address=None, **kwargs):
    """Claims that waited for a confirmed email go on by themselves."""
    if email_address is None or email_address.user_id is None:
        return
    transaction.on_commit(
        lambda: services.requests_for_member(
            member=email_address.user, actor=Actor.signal("email confirmed")
        )
    )


@receiver(address_proven, dispatch_uid="claims.address_proven")
def on_address_proven(sender, *, member, **kwargs):
    """BitBadges proved a member's address (a sign-in, a sign-up, a connect): claims that
    require a proven address, or wait for a confirmed email or a proven address, are
    checked again once the proof is committed, as a typed address change does
    (check_requests.address_save; a typed address drops the proof: users.models.User.save)."""
    if member is None or member.pk is None:
        return
    transaction.on_commit(
        lambda: services.requests_for_member(member=member, actor=Actor.signal("address proven"))
    )
