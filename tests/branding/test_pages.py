"""The brand on members' pages: name, logo, title and support address; the brand kept in
the cache (no query once there) and forgotten when saved; /brand.css and /brand/logo."""

import pytest
from django.db import connection
from django.template import RequestContext, Template
from django.test.utils import CaptureQueriesContext, override_settings

from branding.models import Brand
from tests.branding.images_support import png

pytestmark = pytest.mark.django_db


def _brand(**fields) -> Brand:
    brand = Brand(**fields)
    brand.save()
    return brand


def _head(page: str) -> tuple[str, str]:
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    header = page.split('<a class="brand"', 1)[1].split("</a>", 1)[0]
    return title, header


def test_the_settings_brand_every_page_when_the_admin_sets_nothing(client):
    with override_settings(BRAND_NAME="Acme & Co", BRAND_SUPPORT_EMAIL="help@acme.example"):
        page = client.get("/login/").text
    title, header = _head(page)
    assert title == "Log in · Acme &amp; Co"
    assert "Acme &amp; Co" in header and 'class="brand-mark"' in header
    assert 'href="mailto:help@acme.example"' in page
    assert "Connect &amp; Claim" not in page.split("<main", 1)[0]


def test_the_sign_up_page_invites_to_the_brand(client):
    _brand(name="Acme Rewards")
    page = client.get("/signup/").text
    assert "<h1>Join Acme Rewards</h1>" in page and "Sign up · Acme Rewards" in page


def test_the_admin_wins_over_the_settings_on_a_member_page(client, member):
    client.force_login(member)
    _brand(
        name="Acme Rewards", support_email="help@acme.example", logo=png(), logo_type="image/png"
    )
    with override_settings(BRAND_NAME="From settings", BRAND_SUPPORT_EMAIL="settings@example.com"):
        page = client.get("/claims/").text
    title, header = _head(page)
    assert title.endswith(" · Acme Rewards") and "From settings" not in page
    assert '<img class="brand-logo" src="/brand/logo?v=' in header and "Acme Rewards" in header
    assert "help@acme.example" in page and "settings@example.com" not in page


@pytest.mark.parametrize(
    ("block", "shown"),
    [
        ("Connected", "Connected · Acme Rewards"),
        ("", "Acme Rewards"),
        ("Acme Rewards", "Acme Rewards"),
    ],
)
def test_a_title_without_the_name_gets_it_once(rf, block, shown):
    # The sandbox's pages have such titles; a template stands in for them here.
    _brand(name="Acme Rewards")
    page = Template('{% extends "base.html" %}{% block title %}' + block + "{% endblock %}").render(
        RequestContext(rf.get("/"), {})
    )
    assert _head(page)[0] == shown


def test_a_cached_brand_costs_no_query_and_a_saved_one_shows_at_once(client):
    client.get("/login/")  # reads the brand once, into the cache
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/login/").text
    assert not [q for q in queries.captured_queries if "branding_brand" in q["sql"]]
    assert "Log in · Connect &amp; Claim" in page
    brand = _brand(name="Acme Rewards")
    assert "Log in · Acme Rewards" in client.get("/login/").text
    brand.name = "Acme Prizes"
    brand.save()
    assert "Log in · Acme Prizes" in client.get("/login/").text
    brand.delete()
    assert "Log in · Connect &amp; Claim" in client.get("/login/").text


def test_the_stylesheet_carries_the_accent_and_is_cached_by_version(client):
    _brand(accent_colour="#0b5fff")
    page = client.get("/login/").text
    href = page.split('<link rel="stylesheet" href="/brand.css?v=', 1)[1].split('"', 1)[0]
    response = client.get(f"/brand.css?v={href}")
    assert response["Content-Type"] == "text/css; charset=utf-8"
    assert "--accent: #0b5fff;" in response.text
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert client.get("/brand.css")["Cache-Control"] == "public, no-cache"
    again = client.get("/brand.css", headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304


def test_the_logo_is_served_as_the_image_it_is(client):
    _brand(logo=png(), logo_type="image/png", logo_width=64, logo_height=32)
    url = client.get("/login/").text.split('class="brand-logo" src="', 1)[1].split('"', 1)[0]
    response = client.get(url)
    assert response.status_code == 200 and response.content == png()
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url, headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304 and len(queries) == 0
    assert client.post(url).status_code == 405


def test_no_logo_is_a_404_and_the_mark_stays(client):
    assert client.get("/brand/logo").status_code == 404
    assert 'class="brand-mark"' in client.get("/login/").text
