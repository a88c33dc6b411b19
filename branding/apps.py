from django.apps import AppConfig


class BrandingConfig(AppConfig):
    """The owner's brand, read by every member page and email."""

    name = "branding"
