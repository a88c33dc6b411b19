"""One-click unsubscribe (RFC 8058): GET shows a button and changes nothing; POST (the
page's form with CSRF, or a mail client's one-click body without) turns that kind off.
Hostile tokens get a 400/404 page with a sentence, never a 500, and write nothing."""

import base64

import pytest
from django.core import signing
from django.test import Client

from notifications.models import Kind, Preference
from notifications.tokens import SALT, token_for
from notifications.views import UNSUBSCRIBE_TEMPLATE

pytestmark = pytest.mark.django_db

ONE_CLICK = "List-Unsubscribe=One-Click"
FORM = "application/x-www-form-urlencoded"


def url(token: str) -> str:
    return f"/notifications/unsubscribe/{token}/"


def wants(member, kind: str) -> bool:
    preference = Preference.objects.filter(member=member).first()
    return preference is None or getattr(preference, kind)


def test_get_shows_a_button_and_unsubscribes_nobody(member):
    response = Client().get(url(token_for(member, Kind.ACCOUNT_BROKEN)))
    assert response.status_code == 200
    assert UNSUBSCRIBE_TEMPLATE in [t.name for t in response.templates]
    body = response.content.decode()
    assert "Stop these emails?" in body and 'method="post"' in body
    assert "An account a claim needs stopped working" in body
    assert not Preference.objects.exists()


def test_the_pages_own_form_unsubscribes_with_csrf(member):
    client = Client(enforce_csrf_checks=True)
    target = url(token_for(member, Kind.BADGE_EARNED))
    client.get(target)
    token = client.cookies["csrftoken"].value
    response = client.post(target, {"csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    assert not wants(member, Kind.BADGE_EARNED) and wants(member, Kind.ACCOUNT_BROKEN)
    again = client.post(target, {"csrfmiddlewaretoken": token})  # idempotent
    assert again.status_code == 200
    assert Preference.objects.count() == 1 and not wants(member, Kind.BADGE_EARNED)


def test_a_post_that_is_neither_one_click_nor_csrf_checked_is_refused(member):
    client = Client(enforce_csrf_checks=True)
    target = url(token_for(member, Kind.BADGE_EARNED))
    for body in ("", "List-Unsubscribe=Yes", "list-unsubscribe=one-click"):
        response = client.post(target, body, content_type=FORM)
        assert response.status_code == 403
    assert wants(member, Kind.BADGE_EARNED)


def test_the_one_click_post_needs_no_session_nor_csrf(member):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        url(token_for(member, Kind.ACCOUNT_BROKEN)), ONE_CLICK, content_type=FORM
    )
    assert response.status_code == 200
    assert not wants(member, Kind.ACCOUNT_BROKEN) and wants(member, Kind.BADGE_EARNED)


def _hostile(member) -> dict[str, str]:
    good = token_for(member, Kind.BADGE_EARNED)
    return {
        "garbage": "not-a-token",
        "tampered": good[:-1] + ("A" if good[-1] != "A" else "B"),
        "other member named": good.replace(good[2:6], "AAAA", 1),
        "oversized": "A" * 5000,
        "other salt": signing.dumps([str(member.external_id), "badge_earned"], salt="other"),
        "old shape": signing.dumps([str(member.external_id), "badge_earned"], salt=SALT),
        "signed, no fingerprint": signing.Signer(salt=SALT, algorithm="sha256").sign(
            f"{member.pk}.b"
        ),
        "signed, bad pk": signing.Signer(salt=SALT, algorithm="sha256").sign("1 OR 1=1.b.ab"),
        "signed, bad kind": signing.Signer(salt=SALT, algorithm="sha256").sign(f"{member.pk}.x.ab"),
        "wrong shape": signing.dumps({"member": str(member.external_id)}, salt=SALT),
        "unknown kind": signing.dumps([str(member.external_id), "everything"], salt=SALT),
        "not an id": signing.dumps(["1 OR 1=1", "badge_earned"], salt=SALT),
        "three parts": signing.dumps(["a", "b", "c"], salt=SALT),
        "non-ascii": "%F0%9F%92%A9:%00:..",
        "colons": ":::",
    }


@pytest.mark.parametrize("method", ["get", "post"])
def test_hostile_tokens_get_a_sentence_never_a_500(member, method):
    client = Client(raise_request_exception=False)
    for name, token in _hostile(member).items():
        call = getattr(client, method)
        response = (
            call(url(token), ONE_CLICK, content_type=FORM) if method == "post" else call(url(token))
        )
        assert response.status_code in (400, 404), (name, response.status_code)
        assert "This link does not work" in response.content.decode() or response.status_code == 404
    assert not Preference.objects.exists()


def test_a_deleted_members_token_names_nobody(member, django_user_model):
    token = token_for(member, Kind.BADGE_EARNED)
    member.delete()
    for response in (
        Client().get(url(token)),
        Client().post(url(token), ONE_CLICK, content_type=FORM),
    ):
        assert response.status_code == 404
        assert "no longer exists" in response.content.decode()
    assert not Preference.objects.exists()


def test_other_methods_are_refused(member):
    response = Client().put(url(token_for(member, Kind.BADGE_EARNED)))
    assert response.status_code == 405


def test_guessing_is_limited_per_address_but_a_real_link_always_works(member, settings):
    """Links that are not ours count against the client's address; one of ours never does
    (a mail provider's one-click POST shares its address with scanners and guessers)."""
    settings.NOTIFICATIONS_UNSUBSCRIBE_RATE_LIMIT = (3, 600)
    client = Client()
    answers = [client.get(url("garbage")).status_code for _ in range(4)]
    assert answers == [400, 400, 400, 429]
    assert int(client.get(url("garbage"))["Retry-After"]) > 0
    token = token_for(member, Kind.BADGE_EARNED)
    for _ in range(5):  # a scanner following the link, from the same address
        assert client.get(url(token)).status_code == 200
    done = client.post(url(token), ONE_CLICK, content_type=FORM)
    assert done.status_code == 200
    assert not wants(member, Kind.BADGE_EARNED)


def test_a_real_link_is_limited_on_its_own_generously(member, settings):
    settings.NOTIFICATIONS_UNSUBSCRIBE_LINK_RATE_LIMIT = (3, 600)
    badge = url(token_for(member, Kind.BADGE_EARNED))
    answers = [Client().get(badge).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    # Another link (the other kind) and other clients' guesses are counted apart.
    assert Client().get(url(token_for(member, Kind.ACCOUNT_BROKEN))).status_code == 200
    assert Client().get(url("garbage")).status_code == 400


def test_the_token_is_opaque_and_checked_with_the_fallback_keys(member, settings):
    token = token_for(member, Kind.BADGE_EARNED)
    assert str(member.external_id) not in token
    assert str(member.external_id).replace("-", "") not in token
    for part in token.replace(":", ".").split("."):
        try:
            decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except ValueError:
            continue
        assert str(member.external_id).encode() not in decoded
    # The key rotated, the old one kept as a fallback: the link still works.
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    done = Client().post(url(token), ONE_CLICK, content_type=FORM)
    assert done.status_code == 200 and not wants(member, Kind.BADGE_EARNED)
    settings.SECRET_KEY_FALLBACKS = []
    assert Client().get(url(token)).status_code == 400


def test_a_token_for_a_deleted_members_pk_names_nobody_else(member, django_user_model):
    """SQLite may give a deleted member's pk to the next one: the token checks who."""
    token = token_for(member, Kind.BADGE_EARNED)
    pk = member.pk
    member.delete()
    other = django_user_model.objects.create_user(pk=pk, username="bob", password="x")
    response = Client().post(url(token), ONE_CLICK, content_type=FORM)
    assert response.status_code == 404
    assert wants(other, Kind.BADGE_EARNED)


def test_a_broken_link_gets_a_400_page_that_is_not_a_not_found_page():
    response = Client().get(url("garbage"))
    assert response.status_code == 400
    assert [t.name for t in response.templates][0] == "notifications/problem.html"
    page = response.content.decode()
    assert "This link does not work" in page and "<h1>This link does not work</h1>" in page
    assert "Page not found" not in page and "not-found" not in page
