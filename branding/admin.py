"""The Brand page: one row, edited in place; the list leads straight to it."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from branding.forms import BrandForm
from branding.models import BRAND_PK, Brand
from branding.selectors import brand_current


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    form = BrandForm
    fieldsets = [
        (None, {"fields": ["name", "support_email", "accent_colour"]}),
        ("Logo", {"fields": ["logo_now", "logo_upload", "logo_remove"]}),
        ("What members see now", {"fields": ["in_use"]}),
    ]
    readonly_fields = ["logo_now", "in_use"]

    @admin.display(description="Current logo")
    def logo_now(self, brand: Brand) -> str:
        if not brand.pk or not brand.logo:
            return "No logo: the name is shown alone."
        return format_html(
            '<img src="{}" alt="The current logo" height="32"> {} × {} px, {}',
            brand_current().logo_url,
            brand.logo_width,
            brand.logo_height,
            brand.logo_type,
        )

    @admin.display(description="In use")
    def in_use(self, brand: Brand) -> str:
        now = brand_current()
        return format_html(
            "Name “{}”, support address {}, accent {} (the settings give “{}”, {}, {}).",
            now.name,
            now.support_email or "none",
            now.accent,
            settings.BRAND_NAME,
            settings.BRAND_SUPPORT_EMAIL or "none",
            settings.BRAND_ACCENT_COLOUR,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not Brand.objects.exists()

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # One row: the list would only ever show it.
        if Brand.objects.filter(pk=BRAND_PK).exists():
            return HttpResponseRedirect(reverse("admin:branding_brand_change", args=[BRAND_PK]))
        if self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:branding_brand_add"))
        return super().changelist_view(request, extra_context)
