"""The badge itself: BitBadges' name and image for a claim, read with its life (the sandbox
over real HTTP), fetched once per change, served from the site's own origin, and
"View on BitBadges" once earned. Hostile images never reach a page and never fail the
reading."""

import gzip
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

import config.urls  # noqa: F401 - read with the sandbox on, before a test turns SANDBOX off
from claims.bitbadges import badge
from claims.models import BadgeImage, Claim, Completion
from sandbox.bitbadges.claims import NO_IMAGE
from sandbox.bitbadges.models import BitBadgesClaim

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GZIPPED = gzip.compress(PNG)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


IMAGES = "/sandbox/bitbadges/images/"  # the only local path fetched in SANDBOX mode
DRIP_GAP = 0.4


class _Hostile(BaseHTTPRequestHandler):
    """An image host answering each path its own way; `seen` counts its requests."""

    seen: list[str] = []
    encodings: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        name = self.path.removeprefix(IMAGES)
        self.seen.append(name)
        self.encodings.append(self.headers.get("Accept-Encoding", ""))
        answers = {
            "good.png": (200, "image/png", PNG),
            "svg-as-png.png": (200, "image/png", SVG),
            "page.png": (200, "text/html", b"<html>not an image</html>"),
            "big.png": (200, "image/png", PNG + b"\x00" * 5000),
            "missing.png": (404, "text/plain", b"no"),
        }
        redirects = {
            "to-private.png": "https://10.1.2.3/badge.png",
            "to-redis.png": "http://127.0.0.1:6379/",
        }
        try:
            if name in redirects:
                self.send_response(302)
                self.send_header("Location", redirects[name])
                self.end_headers()
            elif name == "gzipped.png":  # compressed although identity was asked for
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(GZIPPED)))
                self.end_headers()
                self.wfile.write(GZIPPED)
            elif name == "slow.png":
                time.sleep(1.5)
                self._answer(200, "image/png", PNG)
            elif name == "drip-head.png":  # the status line, a byte at a time
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n" * 20:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(DRIP_GAP)
            elif name == "drip-body.png":  # headers at once, then a byte at a time
                body = PNG + b"\x00" * 30
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(DRIP_GAP)
            else:
                self._answer(*answers.get(name, (200, "image/png", PNG)))
        except OSError:  # the site hung up on it
            pass

    def _answer(self, status, kind, body):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def image_host():
    """A hostile host on this machine: (its URL, the paths it was asked). A test makes it
    the site's own origin (`as_site`), the only plain-http local host fetched."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True  # a drip the site hung up on is not waited for
    _Hostile.seen, _Hostile.encodings = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def as_site(settings, host: str) -> None:
    settings.PUBLIC_URL = host


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

    response = Client().get(badge.badge_url(starter))
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
def test_the_image_is_fetched_once_per_change(demo_claims, image_host, settings):
    starter = read(demo_claims["github-starter"])
    first = BadgeImage.objects.get(claim=starter)
    starter = read(starter)
    assert BadgeImage.objects.get(claim=starter).fetched_at == first.fetched_at

    as_site(settings, image_host)
    upstream_image(starter, f"{image_host}{IMAGES}good.png")
    starter = read(starter)
    kept = BadgeImage.objects.get(claim=starter)
    assert kept.fetched_at > first.fetched_at and bytes(kept.data) == PNG
    assert starter.badge_image_etag != first.etag
    assert _Hostile.encodings == ["identity"]  # the size limit is the bytes sent
    assert Client().get(f"/c/{starter.slug}/badge").content == PNG


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "path, why",
    [
        ("svg-as-png.png", "not a PNG, JPEG, GIF or WebP"),
        ("page.png", "not a PNG, JPEG, GIF or WebP"),
        ("big.png", "larger than"),
        ("to-private.png", "10.1.2.3, which is not a public address"),
        ("to-redis.png", "only https"),
        ("slow.png", "took too long"),
        ("drip-head.png", "took too long"),
        ("drip-body.png", "took too long"),
        ("missing.png", "answered 404"),
        ("gzipped.png", "sent compressed"),
        ("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "ipfs"),
    ],
)
def test_a_bad_image_is_not_kept_the_mark_shows_and_staff_read_why(
    demo_claims, image_host, settings, admin_client, path, why
):
    settings.BADGE_IMAGE_MAX_BYTES = 1000
    settings.BADGE_IMAGE_TIMEOUT = 1.0
    as_site(settings, image_host)
    starter = demo_claims["github-starter"]
    upstream_image(starter, path if path.startswith("ipfs:") else f"{image_host}{IMAGES}{path}")
    started = time.monotonic()
    starter = read(starter)
    assert time.monotonic() - started < 4  # the whole reading: the time limit is 1 s
    assert starter.life_read_error == "" and starter.life_read_at is not None
    assert why in starter.badge_image_error
    assert not BadgeImage.objects.filter(claim=starter).exists()
    assert Client().get(f"/c/{starter.slug}/badge").status_code == 404
    body = landing(Client(), starter)
    assert 'class="landing-mark" src="data:image/svg+xml' in body
    admin = admin_client.get(f"/admin/claims/claim/{starter.pk}/change/").content.decode()
    assert why in admin and "Members see the generated mark." in admin


@pytest.mark.django_db(transaction=True)
def test_a_failure_keeps_the_last_good_image(demo_claims, image_host, settings):
    starter = read(demo_claims["github-starter"])
    good = bytes(BadgeImage.objects.get(claim=starter).data)
    as_site(settings, image_host)
    upstream_image(starter, f"{image_host}{IMAGES}svg-as-png.png")
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
        ("https://localhost/a.png", "not a public address"),
        ("https://user:pw@example.com/a.png", "user name or password"),
        ("file:///etc/passwd", "only https"),
    ]:
        with pytest.raises(badge.ImageRefused, match=why):
            badge.fetch(url)


def _keep_image(claim) -> None:
    BadgeImage.objects.create(
        claim=claim,
        source_url="https://img.example/a.png",
        content_type="image/png",
        data=PNG,
        etag="e" * 32,
        fetched_at=timezone.now(),
    )
    Claim.objects.filter(pk=claim.pk).update(badge_image_etag="e" * 32)


@pytest.mark.django_db
def test_the_image_route_is_404_for_unknown_or_imageless_claims(make_claim):
    _keep_image(make_claim("shown"))
    make_claim("bare")
    client = Client()
    current = client.get(f"/c/shown/badge?v={'e' * 12}")
    assert current.status_code == 200 and "max-age=604800" in current["Cache-Control"]
    for url in ("/c/shown/badge", "/c/shown/badge?v=old"):  # not the URL pages use: briefly
        response = client.get(url)
        assert response.status_code == 200 and "max-age=300" in response["Cache-Control"]
    head = client.head("/c/shown/badge")
    assert head.status_code == 200 and head["Content-Type"] == "image/png"
    for slug in ("bare", "nope", "x" * 200):
        assert client.get(f"/c/{slug}/badge").status_code == 404
    assert client.post("/c/shown/badge").status_code == 405


@pytest.mark.django_db
def test_a_disabled_claims_image_shows_only_to_those_who_earned_it(
    make_claim, member, django_user_model
):
    """Earned stays earned: the home page still shows the badge of a claim disabled since;
    no one else learns the claim or its picture."""
    hidden = make_claim("hidden", enabled=False)
    _keep_image(hidden)
    Completion.objects.create(
        claim=hidden, member=member, state=Completion.State.COMPLETED, completed_at=timezone.now()
    )
    earner = Client()
    earner.force_login(member)
    response = earner.get(f"/c/hidden/badge?v={'e' * 12}")
    assert response.status_code == 200 and response.content == PNG
    assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
    home = earner.get("/").content.decode()
    assert f'src="/c/hidden/badge?v={"e" * 12}"' in home

    other = Client()
    other.force_login(django_user_model.objects.create_user("carol", "carol@example.com", "pw"))
    for client in (Client(), other):
        assert client.get(f"/c/hidden/badge?v={'e' * 12}").status_code == 404


@pytest.mark.django_db
def test_view_on_bitbadges_only_once_earned(make_claim, member, settings):
    settings.SANDBOX = False  # the real BitBadges: its claim page
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
    # /claims/ too: the picture beside the name, and the link once earned.
    claims_page = client.get("/claims/").content.decode()
    assert link in claims_page and 'class="claim-row-img"' in claims_page
    completion.state = Completion.State.INELIGIBLE
    completion.save()
    claims_page = client.get("/claims/").content.decode()
    assert link not in claims_page and 'class="claim-row-img"' in claims_page


@pytest.mark.django_db(transaction=True)
def test_in_the_sandbox_view_on_bitbadges_opens_the_sandboxs_claim_page(demo_claims, member):
    """bitbadges.io knows no sandbox claim: the link goes to the sandbox's stand-in page,
    which exists and shows the claim's name and uses, never its password."""
    starter = read(demo_claims["github-starter"])
    Completion.objects.create(
        claim=starter,
        member=member,
        state=Completion.State.COMPLETED,
        completed_at=timezone.now(),
    )
    client = Client()
    client.force_login(member)
    body = landing(client, starter)
    page = f"/sandbox/bitbadges/claims/{starter.bitbadges_claim_id}"
    assert "https://bitbadges.io/claims/" not in body
    assert 'href="http://localhost:' in body and f'{page}" target="_blank"' in body
    shown = Client().get(page)
    assert shown.status_code == 200
    text = shown.content.decode()
    assert starter.bitbadges_name in text and "uses taken" in text
    assert f"https://bitbadges.io/claims/{starter.bitbadges_claim_id}" in text
    assert "sandbox-github-starter" not in text  # the claim's password
    assert Client().get(f"/sandbox/bitbadges/claims/{'0' * 32}").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_an_image_bitbadges_no_longer_gives_is_dropped(demo_claims, admin_client):
    starter = read(demo_claims["github-starter"])
    assert BadgeImage.objects.filter(claim=starter).exists()
    upstream_image(starter, NO_IMAGE)
    starter = read(starter)
    assert starter.bitbadges_image_url == "" and starter.badge_image_etag == ""
    assert not BadgeImage.objects.filter(claim=starter).exists()
    assert Client().get(f"/c/{starter.slug}/badge").status_code == 404
    assert 'class="landing-mark" src="data:image/svg+xml' in landing(Client(), starter)
    admin = admin_client.get(f"/admin/claims/claim/{starter.pk}/change/").content.decode()
    assert "none given on BitBadges: members see the generated mark" in admin


@pytest.mark.django_db(transaction=True)
def test_the_demo_has_a_badge_without_a_picture(demo_claims):
    builders = read(demo_claims["github-builders"])
    assert builders.life_read_error == "" and builders.badge_read_at is not None
    assert builders.bitbadges_image_url == "" and not BadgeImage.objects.filter(claim=builders)
    assert 'class="landing-mark" src="data:image/svg+xml' in landing(Client(), builders)


@pytest.mark.django_db(transaction=True)
def test_a_failed_image_is_not_fetched_again_at_every_reading(demo_claims, image_host, settings):
    as_site(settings, image_host)
    starter = demo_claims["github-starter"]
    upstream_image(starter, f"{image_host}{IMAGES}missing.png")
    first = read(starter).badge_image_error
    assert "answered 404" in first and "tried again from" in first
    assert read(starter).badge_image_error == first
    assert _Hostile.seen == ["missing.png"]  # the second reading waited its turn


@pytest.mark.django_db
def test_no_local_address_but_the_sandboxs_own_images(settings):
    """SANDBOX mode fetches plain http from this machine only for the sandbox's images on
    PUBLIC_URL's host and port: not another port (Redis, PostgreSQL), not another path."""
    settings.SANDBOX = True
    settings.PUBLIC_URL = "http://localhost:8123"
    for url, why in [
        ("http://127.0.0.1:6379/", "only https"),
        ("http://localhost:5432/sandbox/bitbadges/images/a.png", "only https"),
        ("http://localhost:8123/admin/", "only https"),
        ("http://localhost:8123/sandbox/bitbadges/images/../../admin.png", "only https"),
        ("http://localhost:8123/sandbox/bitbadges/images/a.png?x=1", "only https"),
        ("https://localhost/a.png", "not a public address"),
        ("https://127.0.0.1:6379/a.png", "not a public address"),
    ]:
        with pytest.raises(badge.ImageRefused, match=why):
            badge.fetch(url)
