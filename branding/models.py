"""The owner's brand as the admin sets it: one row, whose blank fields fall back to the
BRAND_* settings. The logo's bytes live in the database, so every worker serves the same
logo without shared file storage."""

from django.conf import settings
from django.db import models

# The one row's key: the admin edits it, nothing adds a second.
BRAND_PK = 1


def _setting_help(setting: str, what: str) -> str:
    return (
        f"{what} Leave blank to use the {setting} setting; what you set here wins over the setting."
    )


class Brand(models.Model):
    """The site owner's name, support address, accent colour and logo."""

    name = models.CharField(
        max_length=60,
        blank=True,
        help_text=_setting_help(
            "BRAND_NAME", "Shown in every member page's header and title, and in every email."
        ),
    )
    support_email = models.EmailField(
        blank=True,
        help_text=_setting_help(
            "BRAND_SUPPORT_EMAIL",
            "Where members can write: shown in the pages' footer, given in every email, and "
            "the address members' replies go to.",
        ),
    )
    accent_colour = models.CharField(
        max_length=7,
        blank=True,
        help_text=_setting_help(
            "BRAND_ACCENT_COLOUR",
            "Buttons and links, as #rrggbb. White text sits on it, so it needs a contrast of "
            "4.5:1 or more (WCAG AA); a lighter colour is refused with a darker shade offered.",
        ),
    )
    logo = models.BinaryField(null=True, blank=True, editable=False)
    logo_type = models.CharField(max_length=20, blank=True, editable=False)
    logo_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    logo_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "brand"
        verbose_name_plural = "brand"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=BRAND_PK), name="branding_brand_one_row")
        ]

    def __str__(self) -> str:
        return self.name or settings.BRAND_NAME

    def save(self, *args, **kwargs) -> None:
        self.pk = BRAND_PK
        super().save(*args, **kwargs)
