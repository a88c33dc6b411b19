"""Members for the journey tests: one whose address Sign in with BitBadges proved (and
no email), one with a confirmed email, one with neither."""

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.addresses import eth_checksum, normalize_address, to_bitbadges_address

PROVEN_ADDRESS = eth_checksum("5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c")


def address_for(tag: str) -> str:
    """A valid address of its own for each tag (its hex digits from the tag)."""
    digits = "".join(f"{ord(ch):02x}" for ch in tag)[:40].ljust(40, "7")
    return eth_checksum(digits)


def proven_member(
    username: str = "bea", *, address: str = PROVEN_ADDRESS, signed_up: bool = True, **fields
):
    """A member as a BitBadges sign-up leaves them: no email, no usable password, the
    address BitBadges returned (proven now) and their BitBadges login (uid: the bb1
    address). `signed_up`: the sign-up with BitBadges made the account
    (User.signup_method "bitbadges"); False: a password sign-up ("password") who then
    connected BitBadges."""
    method = get_user_model().SignupMethod
    member = get_user_model().objects.create_user(
        username=username,
        address=normalize_address(address),
        proven_address=normalize_address(address),
        address_proven_at=timezone.now(),
        signup_method=method.BITBADGES if signed_up else method.PASSWORD,
        **fields,
    )
    member.set_unusable_password()
    member.save(update_fields=["password"])
    SocialAccount.objects.create(
        user=member,
        provider="bitbadges",
        uid=to_bitbadges_address(address).lower(),
        extra_data={"bitbadgesAddress": to_bitbadges_address(address).lower()},
    )
    return member


def html_text(response) -> str:
    return response.content.decode()
