"""The site owner's brand: name, logo, accent colour and support email, from settings or
the admin, on every member page and email. Every app may read it; it imports only core."""

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class BrandingConfig(AppConfig):
    """The owner's brand, read by every member page and email."""

    name = "branding"

    def ready(self) -> None:
        # Imported once the app registry is ready: the checks register themselves, the
        # receivers use the models.
        from branding import checks, receivers  # noqa: F401

        brand = self.get_model("Brand")
        post_save.connect(receivers.brand_changed, sender=brand, dispatch_uid="branding.saved")
        post_delete.connect(receivers.brand_changed, sender=brand, dispatch_uid="branding.deleted")
