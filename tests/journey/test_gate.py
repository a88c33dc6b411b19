"""Connecting an app needs a confirmed email OR an address proven by Sign in with
BitBadges (users.selectors.member_identity_confirmed): over HTTP with the Pipedream
sandbox, a proven member with no email gets a Connect token and connects; a member with
neither gets the email sentence and nothing is asked of Pipedream."""

import pytest
from allauth.account.models import EmailAddress

from connections import services
from connections.models import ConnectedAccount, ConnectSession
from tests.connections.views_support import local
from tests.journey.journey_support import address_for, proven_member
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)

START = "/c/github-starter/"


@pytest.fixture
def starter(upstreams, apps, make_claim, settings):
    settings.CONNECT_TOKEN_RATE_LIMIT = (100, 60)
    return make_claim("github-starter", apps=[apps["github"]])


def test_a_proven_member_without_email_gets_a_connect_token(client, starter):
    bea = proven_member()
    assert not EmailAddress.objects.filter(user=bea).exists()
    client.force_login(bea)
    minted = client.post("/connect/token/", {"app": "github"})
    assert minted.status_code == 200, minted.content
    body = minted.json()
    assert body["token"] and body["session"]
    session = ConnectSession.objects.get()
    assert (session.member, session.app.slug) == (bea, "github")


def test_a_proven_member_connects_through_the_hosted_page_and_lands_on_the_claim(client, starter):
    bea = proven_member()
    client.force_login(bea)
    hand_off = client.get(f"/connect/github/?next={START}")
    assert hand_off.status_code == 302, hand_off.content
    answer = client.post(local(hand_off["Location"]), {"action": "allow", "name": "octo"})
    done = client.get(local(answer["Location"]), follow=True)
    assert done.redirect_chain[-1] == (START, 302)
    assert ConnectedAccount.objects.filter(member=bea, app__slug="github").count() == 1


def test_a_member_with_neither_gets_the_email_sentence_and_no_token(
    client, starter, django_user_model
):
    typed = django_user_model.objects.create_user(
        username="tom", email="tom@example.com", address=address_for("tom")
    )
    EmailAddress.objects.create(user=typed, email="tom@example.com", verified=False, primary=True)
    client.force_login(typed)
    refused = client.post("/connect/token/", {"app": "github"})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error.startswith("Confirm your email address first")
    assert "tom@example.com" in error
    page = client.get(f"/connect/github/?next={START}")
    assert page.status_code == 403 and "Confirm your email first" in page.text
    assert not ConnectSession.objects.exists()


def test_a_proof_that_no_longer_holds_is_no_proof(client, starter, django_user_model):
    """A proof time without the address it proved (the member cleared it): not proven."""
    bea = proven_member()
    bea.address = ""
    bea.save(update_fields=["address"])
    bea.refresh_from_db()
    assert not bea.address_proven
    client.force_login(bea)
    refused = client.post("/connect/token/", {"app": "github"})
    assert refused.status_code == 403
    assert "Add an email address" in refused.json()["error"]
    with pytest.raises(services.EmailNotVerified):
        services.connect_session_start(
            member=bea, app=starter.requirements.get().app, mode="iframe"
        )
    assert not ConnectSession.objects.exists()


def test_a_confirmed_email_member_connects_as_today(client, starter, django_user_model):
    ada = verify_email(
        django_user_model.objects.create_user(username="ada", email="ada@example.com")
    )
    assert not ada.address_proven
    client.force_login(ada)
    minted = client.post("/connect/token/", {"app": "github"})
    assert minted.status_code == 200, minted.content
    assert ConnectSession.objects.filter(member=ada).count() == 1
