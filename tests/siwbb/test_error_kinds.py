"""What a refusal from BitBadges is called (users.siwbb.client kinds), what answers are
accepted, and the cancelled page whatever comes back with a Deny.

- "did not answer" only when BitBadges did not: a connection error, a timeout, 429, or a
  502/503/504 without BitBadges' errorMessage;
- a plain "BitBadges refused this sign-in" (WARNING) for any refusal whose words are not
  sourced; the site's settings (ERROR) only for the sourced texts;
- a failed verification, as a 200 or as the indexer's 401, is "could not verify";
- `verificationResponse`, when present, must say success: true;
- bitbadgesAddress wins: another chain's `address` (Solana, Bitcoin) stores the bb1,
  proven; a 0x `address` of another account is logged and not used.
Misbehaving BitBadges answers come from a real HTTP server on 127.0.0.1.
"""

import logging

import pytest
from django.contrib.auth import get_user_model

from tests.siwbb.siwbb_support import (
    ALICE_0X,
    ALICE_BB,
    ALICE_EIP55,
    CALLBACK_PATH,
    at_bitbadges,
    back,
    fake_token_endpoint,
    nothing_written,
    page_text,
    query,
    start,
)

pytestmark = pytest.mark.django_db(transaction=True)

DOWN = "BitBadges did not answer in time"
REJECTED = "BitBadges refused this sign-in, so nothing was changed. Start again."
CONFIG = "BitBadges refused this site's sign-in settings"
CODE = "the link was used already or is more than 10 minutes old"
REFUSED = "BitBadges could not verify this sign-in"
SOLANA = "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV"
BITCOIN = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
OTHER_0X = "0x0000000000000000000000000000000000000001"


def _exchange(client, settings, *, status=200, body=None):
    """Our callback for a fresh sign-in, with BitBadges answering the exchange as told."""
    state = query(start(client))["state"]
    with fake_token_endpoint(status=status, body=body) as (url, received):
        settings.BITBADGES_API_URL = url
        response = client.get(f"{CALLBACK_PATH}?code={'c0de' * 16}&state={state}")
    assert len(received) == 1
    return response


REFUSALS = [
    # (status, body, sentence, page status, log level)
    (429, {"errorMessage": "Too many requests"}, DOWN, 503, logging.WARNING),
    (502, b"<html>Bad gateway</html>", DOWN, 503, logging.WARNING),
    (503, b"", DOWN, 503, logging.WARNING),
    (504, {}, DOWN, 503, logging.WARNING),
    (503, {"errorMessage": "Maintenance until 10:00"}, REJECTED, 502, logging.WARNING),
    (500, {"errorMessage": "Something else entirely."}, REJECTED, 502, logging.WARNING),
    (500, b"not json", REJECTED, 502, logging.WARNING),
    (400, {"errorMessage": "Invalid grant type."}, REJECTED, 502, logging.WARNING),
    (
        400,
        {"errorMessage": "Validation failed: code must be a string"},
        REJECTED,
        502,
        logging.WARNING,
    ),
    (500, {"errorMessage": "Invalid client secret."}, CONFIG, 502, logging.ERROR),
    (500, {"errorMessage": "Invalid client ID or redirect URI."}, CONFIG, 502, logging.ERROR),
    (500, {"errorMessage": "Invalid redirect URI."}, CONFIG, 502, logging.ERROR),
    (401, {"errorMessage": "Invalid API key"}, CONFIG, 502, logging.ERROR),
    (500, {"errorMessage": "Invalid code."}, CODE, 400, logging.WARNING),
    (500, {"errorMessage": "Expired."}, CODE, 400, logging.WARNING),
    (
        500,
        {"errorMessage": "Not recent enough. Issued at time is too old: 1"},
        CODE,
        400,
        logging.WARNING,
    ),
    (
        401,
        {"errorMessage": "Not verified", "verificationResponse": {"success": False}},
        REFUSED,
        400,
        logging.WARNING,
    ),
]


@pytest.mark.parametrize(("status", "body", "sentence", "page", "level"), REFUSALS)
def test_each_refusal_has_its_sentence_and_log_level(
    client, siwbb, settings, caplog, status, body, sentence, page, level
):
    with caplog.at_level(logging.INFO, logger="users.siwbb.client"):
        response = _exchange(client, settings, status=status, body=body)
    assert response.status_code == page and sentence in page_text(response)
    [logged] = [r for r in caplog.records if r.name == "users.siwbb.client"]
    assert logged.levelno == level
    nothing_written()


@pytest.mark.parametrize(
    "verification",
    [{"success": "false"}, {"success": "true"}, {}, {"success": None}, "yes", [], 1],
)
def test_a_verification_present_must_say_success_true(client, siwbb, settings, verification):
    body = {"bitbadgesAddress": ALICE_BB, "address": ALICE_0X, "verificationResponse": verification}
    response = _exchange(client, settings, body=body)
    assert response.status_code == 400 and REFUSED in page_text(response)
    nothing_written()


@pytest.mark.parametrize("verification", [None, {"success": True}])
def test_a_verification_absent_or_true_signs_in(client, siwbb, settings, verification):
    body = {"bitbadgesAddress": ALICE_BB, "address": ALICE_0X}
    if verification is not None:
        body["verificationResponse"] = verification
    assert _exchange(client, settings, body=body).status_code == 302
    assert get_user_model().objects.get().address == ALICE_EIP55


@pytest.mark.parametrize(("address", "chain"), [(SOLANA, "Solana"), (BITCOIN, "Bitcoin")])
def test_another_chains_address_stores_the_bb1_proven(client, siwbb, settings, address, chain):
    body = {"bitbadgesAddress": ALICE_BB, "address": address, "chain": chain}
    assert _exchange(client, settings, body=body).status_code == 302
    member = get_user_model().objects.get()
    assert member.address == ALICE_BB and member.address_proven


def test_a_0x_address_of_another_account_is_logged_and_bitbadges_address_wins(
    client, siwbb, settings, caplog
):
    body = {"bitbadgesAddress": ALICE_BB, "address": OTHER_0X, "chain": "Ethereum"}
    with caplog.at_level(logging.INFO, logger="users.siwbb.client"):
        assert _exchange(client, settings, body=body).status_code == 302
    member = get_user_model().objects.get()
    assert member.address == ALICE_BB and member.address_proven
    [warned] = [r for r in caplog.records if r.name == "users.siwbb.client"]
    assert warned.levelno == logging.WARNING and "different accounts" in warned.getMessage()
    assert OTHER_0X not in caplog.text


# --- a Deny, whatever comes back with it ------------------------------------------------


@pytest.mark.parametrize("state", [None, "", "not-a-state-of-ours"])
def test_a_denial_without_a_known_state_is_the_cancelled_page(client, siwbb, state):
    start(client)
    params = "error=access_denied" + (f"&state={state}" if state is not None else "")
    response = client.get(f"{CALLBACK_PATH}?{params}")
    assert response.status_code == 302 and response["Location"] == "/auth/social/login/cancelled/"
    page = page_text(client.get(response["Location"]))
    assert "You did not approve the sign-in at BitBadges" in page and "expired" not in page
    nothing_written()


def test_a_denial_keeps_where_the_member_was_going_for_the_button(client, siwbb):
    location = at_bitbadges(start(client, next_url="/c/github-starter/"), decision="deny")
    response = back(client, location)
    assert response["Location"] == "/auth/social/login/cancelled/"
    page = client.get(response["Location"]).content.decode()
    assert '<input type="hidden" name="next" value="/c/github-starter/">' in page
    # Once: a reload of the page is the plain one.
    reloaded = client.get("/auth/social/login/cancelled/").content.decode()
    assert 'value="/c/github-starter/"' not in reloaded
    nothing_written()
