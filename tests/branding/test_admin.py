"""The Brand page of the admin: one row, set and changed there, bad input refused with a
sentence, and staff without the change permission kept out."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from branding.models import Brand
from tests.branding.images_support import jpeg_header, png, upload, webp_lossless_header

pytestmark = pytest.mark.django_db

ADD = reverse("admin:branding_brand_add")


def _post(client, url=ADD, **fields):
    data = {"name": "", "support_email": "", "accent_colour": "", "_save": "Save"}
    data.update(fields)
    return client.post(url, data)


def _errors(response) -> dict[str, str]:
    assert response.status_code == 200, "the form should have been shown again"
    form = response.context["adminform"].form
    return {field: " ".join(messages) for field, messages in form.errors.items()}


def test_the_list_leads_to_the_one_brand(admin_client):
    assert admin_client.get(reverse("admin:branding_brand_changelist")).url == ADD
    _post(admin_client, name="Acme Rewards")
    response = admin_client.get(reverse("admin:branding_brand_changelist"))
    assert response.url == reverse("admin:branding_brand_change", args=[1])
    # No second row: the add page is closed once the brand exists.
    assert admin_client.get(ADD).status_code == 403


def test_the_admin_sets_every_field_and_the_logo(admin_client):
    response = _post(
        admin_client,
        name="Acme Rewards",
        support_email="help@acme.example",
        accent_colour=" #0B5FFF ",
        logo_upload=upload(png(64, 32)),
    )
    assert response.status_code == 302, _errors(response)
    brand = Brand.objects.get()
    assert (brand.name, brand.support_email, brand.accent_colour) == (
        "Acme Rewards",
        "help@acme.example",
        "#0b5fff",
    )
    assert bytes(brand.logo) == png(64, 32)
    assert (brand.logo_type, brand.logo_width, brand.logo_height) == ("image/png", 64, 32)
    page = admin_client.get(reverse("admin:branding_brand_change", args=[1])).text
    assert "64 × 32 px, image/png" in page
    assert "wins over the setting" in page  # the help text says who wins


@pytest.mark.parametrize(
    ("data", "name", "content_type", "kind"),
    [
        (jpeg_header(120, 40), "logo.jpg", "image/jpeg", "image/jpeg"),
        (webp_lossless_header(48, 48), "logo.webp", "image/webp", "image/webp"),
    ],
)
def test_jpeg_and_webp_logos_are_recognised(admin_client, data, name, content_type, kind):
    response = _post(admin_client, logo_upload=upload(data, name, content_type))
    assert response.status_code == 302, _errors(response)
    assert Brand.objects.get().logo_type == kind


def test_removing_the_logo(admin_client):
    _post(admin_client, logo_upload=upload(png()))
    _post(admin_client, reverse("admin:branding_brand_change", args=[1]), logo_remove="on")
    brand = Brand.objects.get()
    assert not brand.logo and brand.logo_type == "" and brand.logo_width is None


@pytest.mark.parametrize(
    ("fields", "field", "said"),
    [
        (
            {"logo_upload": upload(b"\x89PNG" + b"\0" * (5 * 1024 * 1024))},
            "logo_upload",
            "5121 KB; the limit is 200 KB",
        ),
        (
            {"logo_upload": upload(b"<html><script>alert(1)</script></html>", "logo.png")},
            "logo_upload",
            "This file is text (SVG, HTML or XML), not a picture.",
        ),
        (
            {
                "logo_upload": upload(
                    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                    "logo.svg",
                    "image/svg+xml",
                )
            },
            "logo_upload",
            "SVG is refused because it can carry scripts",
        ),
        (
            {"logo_upload": upload(b"GIF89a" + b"\0" * 20, "logo.gif")},
            "logo_upload",
            "not a PNG, JPEG or WebP",
        ),
        ({"logo_upload": upload(png()[:20])}, "logo_upload", "damaged or cut short"),
        ({"logo_upload": upload(png(4000, 20))}, "logo_upload", "4000×20 pixels"),
        ({"accent_colour": "red; }"}, "accent_colour", "# and six hexadecimal digits"),
        ({"accent_colour": "#ffcc00"}, "accent_colour", "reaches only 1.4:1"),
        (
            {"support_email": "help@acme.example\nBcc: all@example.com"},
            "support_email",
            "valid email",
        ),
        ({"name": "Acme\r\nBcc: all@example.com"}, "name", "one line"),
    ],
    ids=[
        "5MB",
        "html-as-png",
        "svg",
        "gif",
        "cut-short",
        "too-wide",
        "css",
        "contrast",
        "email-newline",
        "name-newline",
    ],
)
def test_bad_input_is_refused_in_words_and_nothing_is_written(admin_client, fields, field, said):
    response = _post(admin_client, **fields)
    assert said in _errors(response)[field]
    assert not Brand.objects.exists()


def test_the_contrast_message_offers_a_shade_that_passes(admin_client):
    said = _errors(_post(admin_client, accent_colour="#ff0000"))["accent_colour"]
    shade = said.rsplit("such as ", 1)[1].split()[0]
    response = _post(admin_client, accent_colour=shade)
    assert response.status_code == 302 and Brand.objects.get().accent_colour == shade


def _staff(client, *codenames):
    user = get_user_model().objects.create_user(username="viewer", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def test_staff_who_may_only_view_cannot_change_the_brand(client, admin_client):
    _post(admin_client, name="Acme Rewards")
    viewer = _staff(client, "view_brand")
    change = reverse("admin:branding_brand_change", args=[1])
    assert viewer.get(change).status_code == 200
    assert _post(viewer, change, name="Hijacked").status_code == 403
    assert Brand.objects.get().name == "Acme Rewards"


def test_staff_without_brand_permissions_do_not_reach_it(client):
    outsider = _staff(client)
    assert outsider.get(reverse("admin:branding_brand_changelist")).status_code == 403
    assert _post(outsider, name="Hijacked").status_code == 403
    assert not Brand.objects.exists()
