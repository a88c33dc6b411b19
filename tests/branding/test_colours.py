"""The accent as text: whatever accent the admin or the settings accept, links and labels
in it reach 4.5:1 on every background app.css draws them on, the tints included, in
light and in dark. colours.py's background lists are held to app.css's palettes here, so
a new tint there cannot slip past the check."""

import itertools
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test.utils import override_settings
from django.urls import reverse

from branding.colours import (
    DARK_BACKGROUNDS,
    DARK_LINK_ACCENT_SHARE,
    LIGHT_BACKGROUNDS,
    MINIMUM_CONTRAST,
    accent_clean,
    contrast,
    dark_link,
    link_shade,
)
from branding.models import Brand

pytestmark = pytest.mark.django_db

APP_CSS = Path(settings.BASE_DIR) / "static" / "css" / "app.css"
# Accents the form accepts that fell under 4.5:1 on a tint (the review's list), and
# the extremes: black, the darkest grey-blue, pure blue, the built-in accent.
NEAR_THRESHOLD = ["#296fce", "#ac5e00", "#008152", "#d81b60", "#7b4cfc", "#6f6f6f"]
HOSTILE = NEAR_THRESHOLD + ["#000000", "#0000ff", "#1c2033", "#4f46e5"]


def _palettes() -> tuple[dict[str, str], dict[str, str]]:
    """app.css's light :root block and its dark one, each as {variable: value}."""
    css = APP_CSS.read_text()
    light = css.split(":root {", 1)[1].split("}", 1)[0]
    dark = css.split("@media (prefers-color-scheme: dark)", 1)[1].split(":root {", 1)[1]
    dark = dark.split("}", 1)[0]

    def variables(block: str) -> dict[str, str]:
        return dict(re.findall(r"(--[\w-]+):\s*([^;]+);", block))

    return variables(light), variables(dark)


def _backgrounds(palette: dict[str, str]) -> set[str]:
    def six(value: str) -> str:
        value = value.strip().lower()
        return "#" + "".join(c * 2 for c in value[1:]) if len(value) == 4 else value

    return {
        six(value)
        for name, value in palette.items()
        if (name in ("--bg", "--card") or name.endswith("-bg")) and name != "--logo-bg"
    }


def test_the_lists_are_app_css_backgrounds():
    light, dark = _palettes()
    assert _backgrounds(light) == set(LIGHT_BACKGROUNDS)
    assert _backgrounds(dark) == set(DARK_BACKGROUNDS)
    # The link colours the lists are checked for are the ones app.css uses.
    assert light["--link"] == "var(--accent-text)"
    share = round(DARK_LINK_ACCENT_SHARE * 100)
    assert dark["--link"] == f"color-mix(in srgb, var(--accent) {share}%, #fff)"


def _accepted(colour: str) -> bool:
    try:
        accent_clean(colour)
    except ValidationError:
        return False
    return True


def _every_accepted_accent() -> list[str]:
    """A 17-step grid over the colour cube plus the hostile list, kept if accepted."""
    steps = range(0, 256, 17)
    grid = ("#{:02x}{:02x}{:02x}".format(*rgb) for rgb in itertools.product(steps, repeat=3))
    return [colour for colour in [*grid, *HOSTILE] if _accepted(colour)]


def test_text_in_any_accepted_accent_passes_on_every_background():
    accents = _every_accepted_accent()
    assert len(accents) > 500 and set(HOSTILE) <= set(accents)
    failing = []
    for accent in accents:
        shade = link_shade(accent)
        for background in LIGHT_BACKGROUNDS:
            if contrast(shade, background) < MINIMUM_CONTRAST:
                failing.append(f"light {accent} -> {shade} on {background}")
        for background in DARK_BACKGROUNDS:
            if contrast(dark_link(accent), background) < MINIMUM_CONTRAST:
                failing.append(f"dark {accent} -> {dark_link(accent)} on {background}")
    assert failing == []


@pytest.mark.parametrize("accent", NEAR_THRESHOLD)
def test_a_near_threshold_accent_is_kept_for_buttons_and_darkened_only_for_text(accent):
    # Accepted (white text on it reads), yet as text under 4.5:1 on some tint ...
    assert accent_clean(accent) == accent
    worst = min(LIGHT_BACKGROUNDS, key=lambda background: contrast(accent, background))
    assert contrast(accent, worst) < MINIMUM_CONTRAST
    # ... so text gets a darker shade of the same hue, only as dark as needed.
    shade = link_shade(accent)
    assert shade != accent and contrast(shade, worst) >= MINIMUM_CONTRAST
    assert contrast(shade, worst) < MINIMUM_CONTRAST + 0.3


def test_an_accent_that_passes_everywhere_is_text_unchanged():
    assert link_shade("#4f46e5") == "#4f46e5"
    assert link_shade("#000000") == "#000000"


def _brand_css(client) -> str:
    page = client.get("/login/").text
    href = page.split('<link rel="stylesheet" href="/brand.css?v=', 1)[1].split('"', 1)[0]
    return client.get(f"/brand.css?v={href}").text


def test_the_stylesheet_gives_pages_the_text_shade(client):
    css = _brand_css(client)
    assert "--accent: #4f46e5; --accent-text: #4f46e5;" in css
    Brand.objects.create(accent_colour="#296fce")
    css = _brand_css(client)
    shade = re.search(r"--accent-text: (#[0-9a-f]{6});", css)[1]
    assert "--accent: #296fce;" in css and shade == link_shade("#296fce") != "#296fce"
    assert contrast(shade, "#eef0ff") >= MINIMUM_CONTRAST > contrast("#296fce", "#eef0ff")
    Brand.objects.all().delete()
    with override_settings(BRAND_ACCENT_COLOUR="#ac5e00"):
        assert f"--accent-text: {link_shade('#ac5e00')};" in _brand_css(client)


ADD = reverse("admin:branding_brand_add")


def _post(client, colour: str):
    data = {"name": "", "support_email": "", "accent_colour": colour, "_save": "Save"}
    return client.post(ADD, data)


def test_the_admin_keeps_a_near_threshold_accent_and_says_what_text_uses(admin_client):
    page = admin_client.get(ADD).text
    assert "use a slightly darker shade of it when that is what keeps them at 4.5:1" in page
    assert _post(admin_client, " #296FCE ").status_code == 302
    assert Brand.objects.get().accent_colour == "#296fce"


@pytest.mark.parametrize(
    ("colour", "said"),
    [
        # 4.47:1, said as 4.4 (not rounded up to the 4.5 it misses), with a shade that passes.
        ("#2a71d2", "#2a71d2 reaches only 4.4:1 against white and the page's light grey"),
        ("#296fce;}a", "Ensure this value has at most 7 characters"),
        ("#fff", "Write the colour as # and six hexadecimal digits"),
        ("#29 6fc", "Write the colour as # and six hexadecimal digits"),
    ],
    ids=["just-too-light", "css-injection", "short", "oversized"],
)
def test_a_refused_accent_is_said_in_a_sentence_and_nothing_is_written(admin_client, colour, said):
    response = _post(admin_client, colour)
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.errors["accent_colour"])
    assert said in errors
    assert not Brand.objects.exists()
