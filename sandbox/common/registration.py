"""Registering an OAuth client with one of the sandbox's providers (its Sign in with
BitBadges apps, its host site's clients): written once, changed only when asked."""

from django.db import transaction
from django.utils import timezone


def register(model, client_id: str, wanted: dict):
    """The `model` row of `client_id` with the `wanted` fields: made, updated (its
    updated_at too) when any differs, or left as it is."""
    with transaction.atomic():
        row = model.objects.select_for_update().filter(client_id=client_id).first()
        if row is None:
            return model.objects.create(client_id=client_id, **wanted)
        if any(getattr(row, key) != value for key, value in wanted.items()):
            for key, value in wanted.items():
                setattr(row, key, value)
            row.updated_at = timezone.now()
            row.save()
    return row
