"""allauth's signals, for the proof of the member's address (proof.py)."""

from allauth.account.signals import user_logged_in
from allauth.socialaccount.models import SocialAccount
from django.db.models.signals import post_delete
from django.dispatch import receiver

from users.siwbb import proof
from users.siwbb.config import PROVIDER_ID


@receiver(user_logged_in, dispatch_uid="siwbb-login-refreshes-proof")
def login_refreshes_proof(sender, request, user, sociallogin=None, **kwargs) -> None:
    # Sent once the login is complete (after a second factor, when the member has one).
    if sociallogin is not None and sociallogin.account.provider == PROVIDER_ID:
        proof.refresh(user, sociallogin.account.uid)


@receiver(post_delete, sender=SocialAccount, dispatch_uid="siwbb-removed-login-drops-proof")
def removed_login_drops_proof(sender, instance, **kwargs) -> None:
    # Whatever removes the login (the member's disconnect, a queryset delete, a shell),
    # the proof of its address goes with it: the address may then be proven elsewhere.
    if instance.provider == PROVIDER_ID:
        proof.drop(instance.user_id, instance.uid)
