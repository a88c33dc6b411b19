"""The accent colour: a #rrggbb value that white text can sit on, and that reads as text.

The rule is WCAG 2 AA for normal text, 4.5:1. The accent itself must reach it against
white (white button text on it) and the page's light grey, #f6f7fb; a colour that fails
is refused, with a darker shade of it that passes offered in the message, so buttons are
the colour the owner chose.

Links and labels are text in the accent on more than white and grey: the tinted message
boxes, status pills and ticks (--info-bg, --ok-bg, --bad-bg, --warn-bg, --neutral-bg ...).
An accent that just passes on grey falls under 4.5:1 there (#296fce: 4.35:1 on #eef0ff),
so that text uses `link_shade(accent)`, given to the pages as --accent-text by /brand.css:
the accent itself when it already passes on every light background, else the lightest
darker shade of it that does. In the dark, links are app.css's mix of 35% accent and 65%
white (`dark_link`), which passes on every dark background for any accent at all.
tests/branding/test_colours.py holds these lists to app.css's palettes.
"""

import math
import re

from django.core.exceptions import ValidationError

MINIMUM_CONTRAST = 4.5
# What the accent itself is checked against (white button text; --card, --bg).
BACKGROUNDS = ("#ffffff", "#f6f7fb")
# Every light background of static/css/app.css that links or accent labels sit on:
# --card, --bg, and each --*-bg (input, button, tile, empty, confirm, reconnect, tints).
LIGHT_BACKGROUNDS = (
    "#ffffff",  # --card, --input-bg, --button-bg
    "#f6f7fb",  # --bg
    "#e9f7ef",  # --ok-bg
    "#fff6e5",  # --warn-bg
    "#fdecec",  # --bad-bg
    "#eef0ff",  # --info-bg
    "#f1f2f6",  # --neutral-bg
    "#fcfcfe",  # --tile-bg
    "#fafbff",  # --empty-bg
    "#fff7f7",  # --confirm-bg
    "#fff8ec",  # --reconnect-bg
)
# The dark palette's backgrounds (--logo-bg aside: a light tile under logos, never text).
DARK_BACKGROUNDS = (
    "#1b1e2a",  # --card
    "#12141c",  # --bg, --input-bg
    "#12301f",  # --ok-bg
    "#33260d",  # --warn-bg, --reconnect-bg
    "#3a1719",  # --bad-bg
    "#23254a",  # --info-bg
    "#272b3a",  # --neutral-bg
    "#232738",  # --button-bg
    "#1f2230",  # --tile-bg, --empty-bg
    "#2a1719",  # --confirm-bg
)
# app.css, dark: --link: color-mix(in srgb, var(--accent) 35%, #fff).
DARK_LINK_ACCENT_SHARE = 0.35

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


def worst_contrast(colour: str, backgrounds: tuple[str, ...] = BACKGROUNDS) -> float:
    return min(contrast(colour, background) for background in backgrounds)


def darker_shade(colour: str, backgrounds: tuple[str, ...] = BACKGROUNDS) -> str:
    """The lightest darker shade of `colour` (same hue, scaled down) that passes."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    for step in range(100, -1, -1):
        shade = "#{:02x}{:02x}{:02x}".format(*(round(c * step / 100) for c in (r, g, b)))
        if worst_contrast(shade, backgrounds) >= MINIMUM_CONTRAST:
            return shade
    return "#000000"


def link_shade(accent: str) -> str:
    """The colour of text in the accent (links, labels) in light: the accent when it reaches
    4.5:1 on every light background, else its lightest darker shade that does."""
    return darker_shade(accent, LIGHT_BACKGROUNDS)


def dark_link(accent: str) -> str:
    """What app.css's dark --link computes from the accent (35% of it, 65% white)."""
    share = DARK_LINK_ACCENT_SHARE
    r, g, b = (int(accent[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(round(c * share + 255 * (1 - share)) for c in (r, g, b)))


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
            # Rounded down: 4.47 must not read "4.5:1", the very ratio it misses.
            params={
                "colour": colour,
                "ratio": math.floor(ratio * 10) / 10,
                "shade": darker_shade(colour),
            },
        )
    return colour
