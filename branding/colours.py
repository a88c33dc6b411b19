"""The accent colour: a #rrggbb value that white text can sit on, and that reads as text.

The rule is WCAG 2 AA for normal text, 4.5:1, both ways the accent is used: white text
on it (buttons) and the accent as text (links) on white and on the page's light grey
background, #f6f7fb (the stricter of the two). A colour that fails is refused,
with a darker shade of it that passes offered in the message; it is never adjusted
silently, so what the owner chose is what members see.
"""

import re

from django.core.exceptions import ValidationError

MINIMUM_CONTRAST = 4.5
# What the accent is read against (static/css/app.css: white cards and text, --bg).
BACKGROUNDS = ("#ffffff", "#f6f7fb")

_HEX = re.compile(r"#[0-9a-f]{6}")


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(first: str, second: str) -> float:
    """WCAG 2's contrast ratio of two #rrggbb colours, from 1 to 21."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def worst_contrast(colour: str) -> float:
    return min(contrast(colour, background) for background in BACKGROUNDS)


def darker_shade(colour: str) -> str:
    """The lightest darker shade of `colour` (same hue, scaled down) that passes."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    for step in range(100, -1, -1):
        shade = "#{:02x}{:02x}{:02x}".format(*(round(c * step / 100) for c in (r, g, b)))
        if worst_contrast(shade) >= MINIMUM_CONTRAST:
            return shade
    return "#000000"


def accent_clean(value: str) -> str:
    """`value` as #rrggbb in lower case, or a ValidationError that says what to do."""
    colour = (value or "").strip().lower()
    if not _HEX.fullmatch(colour):
        raise ValidationError(
            "Write the colour as # and six hexadecimal digits, such as #4f46e5.",
            code="accent_format",
        )
    ratio = worst_contrast(colour)
    if ratio < MINIMUM_CONTRAST:
        raise ValidationError(
            "%(colour)s reaches only %(ratio).1f:1 against white and the page's light grey; "
            "white button text and links need 4.5:1 (WCAG AA) to be readable. A darker "
            "shade such as %(shade)s passes.",
            code="accent_contrast",
            params={"colour": colour, "ratio": ratio, "shade": darker_shade(colour)},
        )
    return colour
