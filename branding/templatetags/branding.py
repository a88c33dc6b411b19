"""{% filter brand_title:brand %}: a page's title under the owner's name.

Templates written before the brand end their titles with the built-in name; the filter
puts the brand's name there instead, and adds it to a title that lacks it."""

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from branding.selectors import BUILT_IN_NAME, BrandView

register = template.Library()

# The name the templates were written with, as they hold it.
WRITTEN_NAME = escape(BUILT_IN_NAME)


@register.filter(is_safe=True)
def brand_title(title: SafeString, brand: BrandView) -> SafeString:
    # `title` is rendered template output, already escaped; the name is escaped here.
    name = escape(brand.name)
    text = str(title).strip()
    if not text:
        return name
    if WRITTEN_NAME in text:
        return mark_safe(text.replace(WRITTEN_NAME, name))  # noqa: S308
    if name in text:
        return mark_safe(text)  # noqa: S308
    return mark_safe(f"{text} · {name}")  # noqa: S308
