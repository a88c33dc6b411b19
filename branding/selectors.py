"""The brand every page and email reads: the admin's row over the BRAND_* settings,
kept in the cache (no query while cached; one when it is not). Saving or deleting the
row forgets the cached brand (receivers.py), so the next page shows the change."""

import hashlib
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse

from branding.colours import accent_clean
from branding.models import BRAND_PK, Brand

# A backstop for changes that skip save() (a queryset update, SQL by hand).
CACHE_SECONDS = 3600
# What a page shows when a BRAND_* setting is unusable.
BUILT_IN_NAME = "Connect & Claim"
BUILT_IN_ACCENT = "#4f46e5"
# Part of /brand.css's version: a change to what views.brand_css writes gets a new URL
# (browsers keep a versioned /brand.css for a year).
CSS_REVISION = "2"


@dataclass(frozen=True)
class BrandView:
    """The brand as members see it now."""

    name: str
    support_email: str
    accent: str
    logo_type: str = ""
    logo_digest: str = ""
    logo_width: int = 0
    logo_height: int = 0

    @property
    def version(self) -> str:
        parts = (self.name, self.support_email, self.accent, self.logo_digest, CSS_REVISION)
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    @property
    def css_url(self) -> str:
        # Versioned: browsers keep it until the brand changes, then fetch the new one.
        return f"{reverse('branding:css')}?v={self.version}"

    @property
    def logo_url(self) -> str:
        return f"{reverse('branding:logo')}?v={self.logo_digest}" if self.logo_digest else ""

    @property
    def from_email(self) -> str:
        """DEFAULT_FROM_EMAIL's address, under the brand's name."""
        return formataddr((self.name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))


def _defaults() -> tuple[str, str, str]:
    """The BRAND_* settings, each made safe for a page and an email header: a value that
    `manage.py check` would refuse (checks.py) gives way to the built-in one."""
    name = " ".join(settings.BRAND_NAME.split())[:60] or BUILT_IN_NAME
    support_email = settings.BRAND_SUPPORT_EMAIL.strip()
    try:
        validate_email(support_email)
    except ValidationError:
        support_email = ""
    try:
        accent = accent_clean(settings.BRAND_ACCENT_COLOUR)
    except ValidationError:
        accent = BUILT_IN_ACCENT
    return name, support_email, accent


def _key() -> str:
    # The settings are part of the key: a restart with new BRAND_* values is seen at once.
    raw = (settings.BRAND_NAME, settings.BRAND_SUPPORT_EMAIL, settings.BRAND_ACCENT_COLOUR)
    digest = hashlib.sha256("\n".join(raw).encode()).hexdigest()[:12]
    return f"branding:brand:{digest}"


def _loaded() -> BrandView:
    name, support_email, accent = _defaults()
    row = Brand.objects.filter(pk=BRAND_PK).first()
    if row is None:
        return BrandView(name=name, support_email=support_email, accent=accent)
    logo = bytes(row.logo) if row.logo else b""
    return BrandView(
        name=row.name or name,
        support_email=row.support_email or support_email,
        accent=row.accent_colour or accent,
        logo_type=row.logo_type if logo else "",
        logo_digest=hashlib.sha256(logo).hexdigest()[:16] if logo else "",
        logo_width=(row.logo_width or 0) if logo else 0,
        logo_height=(row.logo_height or 0) if logo else 0,
    )


def brand_current() -> BrandView:
    """The brand, from the cache when it is there."""
    found = cache.get(_key())
    if isinstance(found, BrandView):
        return found
    found = _loaded()
    cache.set(_key(), found, CACHE_SECONDS)
    return found


def brand_logo() -> tuple[bytes, str] | None:
    """The logo's bytes and Content-Type, or None when the brand has no logo."""
    row = Brand.objects.filter(pk=BRAND_PK).values_list("logo", "logo_type").first()
    if row is None or not row[0]:
        return None
    return bytes(row[0]), row[1]


def brand_forget() -> None:
    """Drop the cached brand now and once the change commits (a page read in between
    would otherwise cache the old row again)."""
    cache.delete(_key())
    transaction.on_commit(partial(cache.delete, _key()))
