"""The member: Django's user plus the identity Pipedream knows and a BitBadges address."""

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models

from core.addresses import MAX_ADDRESS_LENGTH, normalize_address, validate_address


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

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def clean(self):
        super().clean()
        if self.address:
            self.address = normalize_address(self.address)
