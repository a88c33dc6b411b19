"""The member: Django's user plus the identity Pipedream knows and a BitBadges address."""

import uuid
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

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
    # When Sign in with BitBadges last proved that the member owns `address` (the address
    # BitBadges returned is the same account). Empty for a typed address, and cleared
    # whenever the address changes to one not proven, or its BitBadges login is removed.
    address_proven_at = models.DateTimeField(
        "address proven at",
        null=True,
        blank=True,
        editable=False,
        help_text="When Sign in with BitBadges proved the member owns this address.",
    )

    # How the account was made: recorded once, at sign-up (the funnel's paths read it).
    # Empty for members from before it was recorded, and for accounts made by staff.
    class SignupMethod(models.TextChoices):
        PASSWORD = "password", "Email and password"
        BITBADGES = "bitbadges", "Sign in with BitBadges"

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
        return bool(self.address and self.address_proven_at)

    # A proof holds for one account: a save that moves `address` to another account
    # (the profile, the claims page, the admin) drops it, unless the same save sets a
    # new proof (users.siwbb.proof). Against what was read from the database.

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any, **kwargs: Any) -> "User":
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._remember_proof()
        return instance

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        super().refresh_from_db(*args, **kwargs)
        self._remember_proof()

    def save(self, *args: Any, **kwargs: Any) -> None:
        fields = kwargs.get("update_fields")
        if (fields is None or "address" in fields) and self._proof_is_stale():
            self.address_proven_at = None
            if fields is not None:
                kwargs["update_fields"] = {*fields, "address_proven_at"}
        super().save(*args, **kwargs)
        if fields is None or "address" in fields:
            self._remember_proof()

    def _remember_proof(self) -> None:
        loaded = self.__dict__
        self._proof_read = (loaded.get("address"), loaded.get("address_proven_at"))

    def _proof_is_stale(self) -> bool:
        read = getattr(self, "_proof_read", None)
        if read is None or self.address_proven_at is None:
            return False
        address, proven_at = read
        if address is None or self.address_proven_at != proven_at:
            return False  # not read, or a new proof set by this save
        return not same_account(self.address, address)

    def clean(self):
        super().clean()
        if self.address:
            self.address = normalize_address(self.address)
