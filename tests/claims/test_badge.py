"""The badge itself: BitBadges' name and image for a claim, read with its life (the sandbox
over real HTTP), fetched once per change, served from the site's own origin, and
"View on BitBadges" once earned. Hostile images never reach a page and never fail the
reading."""

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from claims.bitbadges import badge
from claims.models import BadgeImage, Claim, Completion
from sandbox.bitbadges.models import BitBadgesClaim

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


class _Hostile(BaseHTTPRequestHandler):
    """An image host answering each path its own way."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        answers = {
            "/good.png": (200, "image/png", PNG),
            "/svg-as-png.png": (200, "image/png", SVG),
            "/page.html": (200, "text/html", b"<html>not an image</html>"),
            "/big.png": (200, "image/png", PNG + b"\x00" * 5000),
            "/missing.png": (404, "text/plain", b"no"),
        }
        if self.path == "/to-private":
            self.send_response(302)
            self.send_header("Location", "http://10.1.2.3/badge.png")
            self.end_headers()
            return
        if self.path == "/slow.png":
            time.sleep(1.5)
        status, kind, body = answers.get(self.path, (200, "image/png", PNG))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def image_host():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def read(claim: Claim) -> Claim:
    call_command("bitbadges_check", "--life", "--claim", claim.slug, stdout=io.StringIO())
    return Claim.objects.get(pk=claim.pk)


def upstream_image(claim: Claim, url: str) -> None:
    BitBadgesClaim.objects.filter(claim_id=claim.bitbadges_claim_id).update(image=url)


def landing(client, claim: Claim) -> str:
    response = client.get(f"/c/{claim.slug}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_reading_keeps_the_name_and_image_and_serves_them_from_this_site(demo_claims):
    starter = read(demo_claims["github-starter"])
    label = BitBadgesClaim.objects.get(claim_id=starter.bitbadges_claim_id).label
    assert starter.bitbadges_name == label
    assert starter.bitbadges_image_url.endswith(f"/images/{starter.bitbadges_claim_id}.png")
    assert starter.badge_image_error == "" and starter.life_read_error == ""

    response = Client().get(f"/c/{starter.slug}/badge")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "max-age=604800" in response["Cache-Control"]
    assert "public" in response["Cache-Control"]
    etag = response["ETag"]
    again = Client().get(f"/c/{starter.slug}/badge", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again["ETag"] == etag

    body = landing(Client(), starter)
    assert f'src="/c/{starter.slug}/badge?v={starter.badge_image_etag[:12]}"' in body
    assert f'alt="{label}"' in body
    assert "data:image/svg+xml" not in body  # the mark gave way to the image


@pytest.mark.django_db(transaction=True)
def test_the_image_is_fetched_once_per_change(demo_claims, image_host):
    starter = read(demo_claims["github-starter"])
    first = BadgeImage.objects.get(claim=starter)
    starter = read(starter)
    assert BadgeImage.objects.get(claim=starter).fetched_at == first.fetched_at

    upstream_image(starter, f"{image_host}/good.png")
    starter = read(starter)
    kept = BadgeImage.objects.get(claim=starter)
    assert kept.fetched_at > first.fetched_at and bytes(kept.data) == PNG
    assert starter.badge_image_etag != first.etag
    assert Client().get(f"/c/{starter.slug}/badge").content == PNG


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "path, why",
    [
        ("/svg-as-png.png", "not a PNG, JPEG, GIF or WebP"),
        ("/page.html", "not a PNG, JPEG, GIF or WebP"),
        ("/big.png", "larger than"),
        ("/to-private", "not a public address"),
        ("/slow.png", "took too long"),
        ("/missing.png", "answered 404"),
        ("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "ipfs"),
    ],
)
def test_a_bad_image_is_not_kept_the_mark_shows_and_staff_read_why(
    demo_claims, image_host, settings, admin_client, path, why
):
    settings.BADGE_IMAGE_MAX_BYTES = 1000
    settings.BADGE_IMAGE_TIMEOUT = 0.5
    starter = demo_claims["github-starter"]
    upstream_image(starter, path if path.startswith("ipfs:") else image_host + path)
    started = time.monotonic()
    starter = read(starter)
    assert time.monotonic() - started < 5
    assert starter.life_read_error == "" and starter.life_read_at is not None
    assert why in starter.badge_image_error
    assert not BadgeImage.objects.filter(claim=starter).exists()
    assert Client().get(f"/c/{starter.slug}/badge").status_code == 404
    body = landing(Client(), starter)
    assert 'class="landing-mark" src="data:image/svg+xml' in body
    admin = admin_client.get(f"/admin/claims/claim/{starter.pk}/change/").content.decode()
    assert why in admin and "Members see the generated mark." in admin


@pytest.mark.django_db(transaction=True)
def test_a_failure_keeps_the_last_good_image(demo_claims, image_host):
    starter = read(demo_claims["github-starter"])
    good = bytes(BadgeImage.objects.get(claim=starter).data)
    upstream_image(starter, f"{image_host}/svg-as-png.png")
    starter = read(starter)
    assert "not a PNG" in starter.badge_image_error
    response = Client().get(f"/c/{starter.slug}/badge")
    assert response.status_code == 200 and response.content == good


@pytest.mark.django_db
def test_only_public_https_hosts_outside_the_sandbox(settings):
    settings.SANDBOX = False
    for url, why in [
        ("http://example.com/a.png", "only https"),
        ("https://127.0.0.1/a.png", "not a public address"),
        ("https://[::ffff:10.0.0.1]/a.png", "not a public address"),
        ("https://user:pw@example.com/a.png", "user name or password"),
        ("file:///etc/passwd", "only https"),
    ]:
        with pytest.raises(badge.ImageRefused, match=why):
            badge.fetch(url)


@pytest.mark.django_db
def test_the_image_route_is_404_for_unknown_disabled_or_imageless_claims(make_claim):
    shown = make_claim("shown")
    hidden = make_claim("hidden", enabled=False)
    for claim in (shown, hidden):
        BadgeImage.objects.create(
            claim=claim,
            source_url="https://img.example/a.png",
            content_type="image/png",
            data=PNG,
            etag="e" * 32,
            fetched_at=timezone.now(),
        )
    make_claim("bare")
    client = Client()
    assert client.get("/c/shown/badge").status_code == 200
    for slug in ("hidden", "bare", "nope", "x" * 200):
        assert client.get(f"/c/{slug}/badge").status_code == 404
    assert client.post("/c/shown/badge").status_code == 405


@pytest.mark.django_db
def test_view_on_bitbadges_only_once_earned(make_claim, member):
    claim = make_claim("starter", bitbadges_claim_id="ab" * 16)
    link = f'href="https://bitbadges.io/claims/{"ab" * 16}" target="_blank" rel="noopener'
    assert link not in landing(Client(), claim)
    client = Client()
    client.force_login(member)
    completion = Completion.objects.create(
        claim=claim, member=member, state=Completion.State.INELIGIBLE
    )
    assert link not in landing(client, claim)
    completion.state = Completion.State.COMPLETED
    completion.completed_at = timezone.now()
    completion.save()
    body = landing(client, claim)
    assert link in body and "View on BitBadges" in body
