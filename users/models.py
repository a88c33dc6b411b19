"""The member: Django's user plus the identity Pipedream knows and a BitBadges address."""

import uuid
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from core.addresses import (
    MAX_ADDRESS_LENGTH,
    normalize_address,
    to_bitbadges_address,
    validate_address,
)


def same_account(first: str, second: str) -> bool:
    """Whether two address spellings name one BitBadges account (0x and bb1 alike)."""
    if not first or not second:
        return False
    try:
        return to_bitbadges_address(first) == to_bitbadges_address(second)
    except ValidationError:
        return first == second


def proven_q(prefix: str = "") -> Q:
    """For SQL: the member's address is proven (User.address_proven, the same rule).
    `prefix` reaches a member from another model, e.g. proven_q("member__")."""
    return (
        Q(**{f"{prefix}address_proven_at__isnull": False})
        & Q(**{f"{prefix}proven_address": F(f"{prefix}address")})
        & ~Q(**{f"{prefix}address": ""})
    )


# Longer than any /c/<slug>/ (slugs are at most 80 characters), far shorter than a URL
# anyone would craft to smuggle something in.
MAX_START_PATH_LENGTH = 120


class User(AbstractUser):
    # What Pipedream knows the member by (its `external_user_id`). Random, so it reveals
    # nothing about the member, and never the primary key, so it can be rotated without
    # touching foreign keys.
    external_id = models.UUIDField(
        "external ID",
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text="The ID Pipedream knows this member by.",
    )
    address = models.CharField(
        "BitBadges address",
        max_length=MAX_ADDRESS_LENGTH,
        blank=True,
        validators=[validate_address],
        help_text="0x... (Ethereum) or bb1... (BitBadges). Claims are delivered here.",
    )
    # What Sign in with BitBadges last proved the member owns, and when: the proof holds
    # while `address` is exactly `proven_address` (address_proven; proven_q for SQL), so
    # however `address` is written (a form, the admin, QuerySet.update, a deferred-field
    # save), an address nobody proved is never proven. Both cleared when the BitBadges
    # login of that address is removed.
    address_proven_at = models.DateTimeField(
        "address proven at",
        null=True,
        blank=True,
        editable=False,
        help_text="When Sign in with BitBadges proved the member owns this address.",
    )
    proven_address = models.CharField(
        "proven address",
        max_length=MAX_ADDRESS_LENGTH,
        blank=True,
        editable=False,
        help_text="The address Sign in with BitBadges proved, as stored then.",
    )

    # How the account was made: recorded once, at sign-up (the funnel's paths read it).
    # Empty for members from before it was recorded, and for accounts made by staff.
    class SignupMethod(models.TextChoices):
        PASSWORD = "password", "Email and password"
        BITBADGES = "bitbadges", "Sign in with BitBadges"
        HOST = "host", "Host site sign-on"

    signup_method = models.CharField(
        "signed up with",
        max_length=20,
        blank=True,
        choices=SignupMethod.choices,
        editable=False,
        help_text="How the member made their account.",
    )
    # The claim page the member set out from (users.start_path): where a login with no
    # `next` of its own lands while that claim is open to them. Only a local path that
    # is a claim's landing page, never a full URL.
    start_path = models.CharField(
        "start claim page",
        max_length=MAX_START_PATH_LENGTH,
        blank=True,
        editable=False,
        help_text="The claim page the member signed up or logged in from.",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    @property
    def address_proven(self) -> bool:
        return bool(self.address and self.address_proven_at and self.address == self.proven_address)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The same account in another spelling (0x <-> bb1, typed on /profile/) keeps its
        # proof: the proven spelling follows. A save that moves the address to another
        # account clears the proof (typing back the proven address does not restore it).
        fields = kwargs.get("update_fields")
        if fields is None or "address" in fields:
            proven = self.proven_address
            if proven and self.address != proven:
                if same_account(self.address, proven):
                    self.proven_address = self.address
                else:
                    self.proven_address = ""
                    self.address_proven_at = None
                if fields is not None:
                    kwargs["update_fields"] = {*fields, "proven_address", "address_proven_at"}
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        if self.address:
            self.address = normalize_address(self.address)
