"""allauth's signals, for the proof of the member's address (proof.py)."""

from allauth.account.signals import user_logged_in
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.signals import social_account_removed
from django.dispatch import receiver

from users.siwbb import proof
from users.siwbb.config import PROVIDER_ID


@receiver(user_logged_in, dispatch_uid="siwbb-login-refreshes-proof")
def login_refreshes_proof(sender, request, user, sociallogin=None, **kwargs) -> None:
    # Sent once the login is complete (after a second factor, when the member has one).
    if sociallogin is not None and sociallogin.account.provider == PROVIDER_ID:
        proof.refresh(user, sociallogin.account.uid)


@receiver(social_account_removed, sender=SocialAccount, dispatch_uid="siwbb-disconnect-drops-proof")
def disconnect_drops_proof(sender, request, socialaccount, **kwargs) -> None:
    if socialaccount.provider == PROVIDER_ID:
        proof.drop(socialaccount.user_id, socialaccount.uid)
