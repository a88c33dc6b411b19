"""Claims listen to connections' signals (connections never imports claims).

The signals are sent on commit; each receiver only records a request for a check and
queues the task, so a slow upstream never holds up the request that connected an account.
"""

import logging

from allauth.account.signals import email_confirmed
from django.db import transaction
from django.dispatch import receiver

from claims import services, triggers
from claims.audit import Actor
from claims.tasks import claim_triggers_sync_task, trigger_deploy_task, trigger_remove_task
from connections.signals import (
    account_connected,
    account_disconnected,
    account_health_changed,
    site_accounts_changed,
)
from users.siwbb.signals import address_proven

logger = logging.getLogger(__name__)


@receiver(account_connected, dispatch_uid="claims.account_connected")
def on_account_connected(sender, *, account, member, created=True, session=None, **kwargs):
    services.requests_for_account(
        member=member, app_slug=account.app.slug, actor=Actor.signal("account connected")
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
