"""Connecting through the hosted page (Connect Link, no JavaScript) from a claim page
ends back on that claim page, with the message; over HTTP with the sandbox. Only a
local claim page is ever returned to: anything else ends on /accounts/ as before."""

import html
import re
from urllib.parse import urlsplit

import pytest

from claims.models import Claim
from connections import services
from connections.models import ConnectSession
from connections.services.errors import DEVELOPMENT_LIMIT_SENTENCE
from sandbox.common.models import Fault
from tests.connections.views_support import local

pytestmark = pytest.mark.django_db(transaction=True)

START = "/c/github-starter/"
ADDRESS = "0x742d35cc6634c0532925a3b844bc9e7595f0beb1"


@pytest.fixture
def alice_client(client, member, upstreams, apps, make_claim, settings):
    settings.CONNECT_TOKEN_RATE_LIMIT = (100, 60)
    member.address = ADDRESS
    member.save(update_fields=["address"])
    make_claim("github-starter", apps=[apps["github"]])
    client.force_login(member)
    return client


def hosted_answer(client, path, action="allow"):
    """Open `path` (our hand-off), answer the hosted page, come back: the final response."""
    hand_off = client.get(path)
    assert hand_off.status_code == 302, hand_off.content
    answer = client.post(local(hand_off["Location"]), {"action": action, "name": "octo"})
    assert answer.status_code == 302, answer.content
    return client.get(local(answer["Location"]), follow=True)


def page_text(response) -> str:
    """The page as sent, without the <template> the Connect dialog's script reads its
    sentences from (never shown as such)."""
    markup = response.content.decode()
    return html.unescape(re.sub(r"<template\b.*?</template>", "", markup, flags=re.S))


def test_the_claim_pages_connect_link_names_the_claim_page(alice_client):
    page = page_text(alice_client.get(START))
    assert f'href="/connect/github/?next={START}"' in page


def test_connected_through_the_hosted_page_ends_on_the_claim(alice_client):
    done = hosted_answer(alice_client, f"/connect/github/?next={START}")
    assert done.redirect_chain[-1] == (START, 302)
    assert "Your GitHub account is connected." in page_text(done)
    session = ConnectSession.objects.get()
    assert (session.status, session.return_path) == (ConnectSession.Status.CONNECTED, START)


def test_denied_on_the_hosted_page_ends_on_the_claim_with_the_reason(alice_client):
    done = hosted_answer(alice_client, f"/connect/github/?next={START}", action="deny")
    assert done.redirect_chain[-1] == (START, 302)
    assert "GitHub account was not connected" in page_text(done)


def test_a_refusal_the_member_must_know_of_is_said_on_the_claim(alice_client):
    """Pipedream's development-mode limit: not a cancel, so its sentence, not the neutral one."""
    alice_client.get(f"/connect/github/?next={START}")
    reference = services.session_reference(ConnectSession.objects.get())
    limit = "You've hit your limit on the number of external users you can connect."
    done = alice_client.get(
        "/connect/done/", {"s": reference, "result": "error", "error": limit}, follow=True
    )
    assert done.redirect_chain[-1] == (START, 302)
    assert DEVELOPMENT_LIMIT_SENTENCE in page_text(done)
    assert "Connect it whenever you're ready" not in page_text(done)


def test_without_next_it_ends_on_the_accounts_page(alice_client):
    done = hosted_answer(alice_client, "/connect/github/")
    assert done.redirect_chain[-1] == ("/accounts/", 302)


def test_a_refused_hand_off_goes_back_to_the_claim(alice_client, apps):
    apps["github"].enabled = False
    apps["github"].save(update_fields=["enabled"])
    response = alice_client.get(f"/connect/github/?next={START}", follow=True)
    assert response.redirect_chain == [(START, 302)]
    assert not ConnectSession.objects.exists()


def test_pipedream_refusing_the_token_goes_back_to_the_claim(alice_client):
    Fault.objects.create(endpoint="pipedream.tokens.create", status=400)
    response = alice_client.get(f"/connect/github/?next={START}", follow=True)
    assert response.redirect_chain == [(START, 302)]
    assert not ConnectSession.objects.exists()


HOSTILE = [
    "//evil.com",
    "https://evil.com/c/github-starter/",
    "/\\evil.com",
    "javascript:alert(1)",
    "/%2F%2Fevil.com",
    "%2F%2Fevil.com/c/github-starter/",
    "/c/github-starter/%2F..%2Faccounts",
    "/c/" + "a" * 500 + "/",
    "/accounts/",
    "/admin/",
]


def test_any_other_next_is_ignored(alice_client):
    for hostile in HOSTILE:
        hand_off = alice_client.get("/connect/github/", {"next": hostile})
        assert hand_off.status_code == 302
        assert "evil" not in urlsplit(hand_off["Location"]).netloc
    assert set(ConnectSession.objects.values_list("return_path", flat=True)) == {""}
    assert ConnectSession.objects.count() == len(HOSTILE)
    # One of them answered: it ends where it always did.
    done = hosted_answer(alice_client, "/connect/github/?next=//evil.com")
    assert done.redirect_chain[-1] == ("/accounts/", 302)


def test_the_claim_pages_sentence_says_the_hosted_page_comes_back_here(alice_client):
    page = page_text(alice_client.get(START))
    assert "it brings you back here afterwards" in page
    assert "ends on your accounts page" not in page


def test_the_claims_rows_connect_button_comes_back_to_the_claim(alice_client):
    page = page_text(alice_client.get("/claims/"))
    assert f'href="/connect/github/?next={START}"' in page
    done = hosted_answer(alice_client, f"/connect/github/?next={START}")
    assert done.redirect_chain[-1] == (START, 302)


def test_the_claims_rows_reconnect_button_comes_back_to_the_claim(alice_client, member, connect):
    account = connect(member, "github")
    account.dead = True
    account.save(update_fields=["dead"])
    page = page_text(alice_client.get("/claims/"))
    assert f'href="/connect/github/?account={account.pk}&next={START}"' in page


def test_a_claim_switched_off_meanwhile_ends_on_the_accounts_page(alice_client):
    hand_off = alice_client.get(f"/connect/github/?next={START}")
    Claim.objects.filter(slug="github-starter").update(enabled=False)
    answer = alice_client.post(local(hand_off["Location"]), {"action": "allow", "name": "octo"})
    done = alice_client.get(local(answer["Location"]), follow=True)
    assert done.status_code == 200
    assert done.redirect_chain[-1] == ("/accounts/", 302)
    assert "Your GitHub account is connected." in page_text(done)
