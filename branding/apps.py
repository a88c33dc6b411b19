"""The site owner's brand: name, logo, accent colour and support email, from settings or
the admin, on every member page and email. Every app may read it; it imports only core."""

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class BrandingConfig(AppConfig):
    """The owner's brand, read by every member page and email."""

    name = "branding"

    def ready(self) -> None:
        # Imported here: both need the app registry ready (models, checks).
        from branding import checks  # noqa: F401
        from branding.models import Brand
        from branding.receivers import brand_changed

        post_save.connect(brand_changed, sender=Brand, dispatch_uid="branding.brand_saved")
        post_delete.connect(brand_changed, sender=Brand, dispatch_uid="branding.brand_deleted")
