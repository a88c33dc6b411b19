"""Saving or deleting the brand forgets the cached one (connected in apps.py)."""

from branding.selectors import brand_forget


def brand_changed(sender, **kwargs) -> None:
    brand_forget()
