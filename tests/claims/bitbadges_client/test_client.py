"""The BitBadges client's endpoints: paths, headers, bodies, parsing, errors and secrets.

Every test answers through `responses`; nothing reaches the network. Bodies follow
the rows of docs/fidelity.md (IDX-2024's 500s for claim failures included). Retries
and status polling are in test_bitbadges_retries.py and test_bitbadges_polling.py.
"""

import logging
import re

import pytest
import requests
import responses
from django.test import override_settings
from responses import matchers

from claims import bitbadges
from claims.bitbadges import (
    AlreadyClaimed,
    AttemptTimeout,
    BitBadgesClient,
    BitBadgesError,
    CannotVerify,
    ClaimExhausted,
    ClaimHalted,
    ClaimMisconfigured,
    ClaimNotFound,
    ClaimRejected,
    InvalidAddress,
    InvalidResponse,
    NotConfigured,
    NotWhitelisted,
    OutsideWindow,
    PaymentRequired,
    RateLimited,
    SignInRequired,
    StoreRefused,
    Unauthorized,
    Unavailable,
    VersionMismatch,
    WrongPassword,
)
from tests.claims.bitbadges_support import (
    API,
    ATTEMPT,
    ATTEMPTS_URL,
    BB,
    CLAIM,
    CLAIM_URL,
    COMPLETE_URL,
    ETH,
    ETH_LOWER,
    KEY,
    SIMULATE_URL,
    STORE_ACTION_URL,
    STORE_SECRET,
    STORE_VALUE_URL,
    SUCCESS_URL,
    WRAP,
    claim_body,
    sent_json,
)


@override_settings(
    BITBADGES_API_URL="http://127.0.0.1:8000/sandbox/bitbadges",
    BITBADGES_API_KEY="key-from-settings",
    BITBADGES_TIMEOUT=2.5,
    BITBADGES_MAX_RETRIES=1,
)
def test_from_settings_reads_settings_and_keeps_the_path_prefix(mocked):
    client = bitbadges.get_client()
    assert (client.api_url, client.timeout, client.max_retries) == (
        "http://127.0.0.1:8000/sandbox/bitbadges",
        2.5,
        1,
    )
    url = f"http://127.0.0.1:8000/sandbox/bitbadges/api/v0/claims/simulate/{CLAIM}/{BB}"
    mocked.add(
        responses.POST,
        url,
        json={"claimAttemptId": "0" * 64},
        match=[matchers.header_matcher({"x-api-key": "key-from-settings"})],
    )
    assert client.simulate(CLAIM, ETH) == "0" * 64


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"BITBADGES_API_KEY": ""}, "BITBADGES_API_KEY is not set"),
        ({"BITBADGES_API_URL": ""}, "BITBADGES_API_URL is not set"),
        (
            {"BITBADGES_API_URL": "", "BITBADGES_API_KEY": ""},
            "BITBADGES_API_URL and BITBADGES_API_KEY are not set",
        ),
    ],
)
def test_from_settings_without_key_or_url_is_not_configured(overrides, named):
    with override_settings(**overrides), pytest.raises(NotConfigured) as caught:
        BitBadgesClient.from_settings()
    assert named in str(caught.value)
    assert "environment" in str(caught.value)
    assert caught.value.transient is False


def test_the_constructor_refuses_an_empty_key():
    with pytest.raises(NotConfigured):
        BitBadgesClient(api_url=API, api_key="")


def test_close_shared_session_drops_the_pool():
    shared_session = BitBadgesClient.pool.get
    first = shared_session()
    assert shared_session() is first
    bitbadges.close_shared_session()
    assert shared_session() is not first


# --- complete / simulate -------------------------------------------------------------


def test_complete_posts_inputs_and_the_version_as_a_number(client, mocked):
    mocked.add(
        responses.POST,
        COMPLETE_URL,
        json={"claimAttemptId": ATTEMPT},
        match=[
            matchers.header_matcher({"x-api-key": KEY, "Accept": "application/json"}),
            matchers.json_params_matcher(
                {"_expectedVersion": 3, "pwd1": {"password": "hunter2-secret"}}
            ),
        ],
    )
    attempt = client.complete(
        CLAIM, ETH, inputs={"pwd1": {"password": "hunter2-secret"}}, expected_version=3
    )
    assert attempt == ATTEMPT
    assert mocked.calls[0].request.headers["Content-Type"] == "application/json"


def test_simulate_defaults_to_version_minus_one_and_no_inputs(client, mocked):
    mocked.add(
        responses.POST,
        SIMULATE_URL,
        json={"claimAttemptId": "0" * 64},
        match=[matchers.json_params_matcher({"_expectedVersion": -1})],
    )
    assert client.simulate(CLAIM, ETH) == "0" * 64


@pytest.mark.parametrize(
    ("given", "sent"),
    [(ETH, BB), (ETH_LOWER, BB), ("0x" + ETH[2:].upper(), BB), (BB, BB), (BB.upper(), BB)],
)
def test_both_address_forms_are_accepted_and_sent_as_bb1(client, mocked, given, sent):
    mocked.add(
        responses.POST,
        f"{API}/api/v0/claims/complete/{CLAIM}/{sent}",
        json={"claimAttemptId": ATTEMPT},
    )
    assert client.complete(CLAIM, given) == ATTEMPT


BAD_ADDRESSES = [
    "",
    "   ",
    "0x123",
    "0x742d35cC6634c0532925A3b844bc9E7595F0beb1",  # mixed case, bad EIP-55 checksum
    "0x742d35cc6634c0532925a3b844bc9e7595f0bezz",
    "bb1wskntnrxxnq9x2f95wuyf0y7wk2lp043p2tcaa",  # bad bech32 checksum
    "bb1z3t55m0l9h0eupuz3dp5t5cypyv674jj7mz2jw",  # the docs' misprint
    "cosmos1wskntnrxxnq9x2f95wuyf0y7wk2lp043p2tca7",
    "7EYnhQoR9YM3N7UoaKRoA44Uy8JeaZV3qyouov87awMs",  # Solana: no longer supported
    "alice.eth",
    None,
]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
@pytest.mark.parametrize(
    "call",
    [
        lambda c, a: c.complete(CLAIM, a),
        lambda c, a: c.simulate(CLAIM, a),
        lambda c, a: c.success_count(CLAIM, a),
        lambda c, a: c.store_add("store123", STORE_SECRET, a),
        lambda c, a: c.store_remove("store123", STORE_SECRET, a),
        lambda c, a: c.store_contains("store123", STORE_SECRET, a),
    ],
    ids=["complete", "simulate", "success", "store_add", "store_remove", "store_contains"],
)
def test_an_invalid_address_is_refused_before_any_request(client, mocked, call, address):
    mocked.add(responses.POST, re.compile(f"{API}/.*"), json={"claimAttemptId": ATTEMPT})
    mocked.add(responses.GET, re.compile(f"{API}/.*"), json={"successCount": 0})
    with pytest.raises(InvalidAddress) as caught:
        call(client, address)
    assert len(mocked.calls) == 0
    assert isinstance(caught.value, ClaimRejected)
    assert caught.value.transient is False
    assert caught.value.message  # says what is wrong


def test_an_invalid_checksum_says_so(client):
    with pytest.raises(InvalidAddress, match="checksum"):
        client.complete(CLAIM, "0x742d35cC6634c0532925A3b844bc9E7595F0beb1")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"claimAttemptId": ""},
        {"claimAttemptId": "   "},
        {"claimAttemptId": None},
        {"claimAttemptId": 12},
        {"success": True},
        ["not", "an", "object"],
    ],
)
def test_a_missing_attempt_id_is_an_invalid_response(client, mocked, body):
    mocked.add(responses.POST, COMPLETE_URL, json=body)
    with pytest.raises(InvalidResponse, match="claimAttemptId") as caught:
        client.complete(CLAIM, ETH)
    assert caught.value.transient is True
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("<html><body>Bad gateway</body></html>", "text/html"), ("", "application/json"), ("{", "")],
)
def test_malformed_json_is_an_invalid_response(client, mocked, body, content_type):
    mocked.add(responses.POST, SIMULATE_URL, body=body, status=200, content_type=content_type)
    with pytest.raises(InvalidResponse, match="expected JSON") as caught:
        client.simulate(CLAIM, ETH)
    assert caught.value.operation == "simulate claim"


def test_inputs_must_be_dicts_keyed_by_instance_id(client, mocked):
    with pytest.raises(TypeError):
        client.complete(CLAIM, ETH, inputs={"pwd1": "hunter2"})
    with pytest.raises(ValueError, match="expected_version"):
        client.complete(CLAIM, ETH, inputs={"_expectedVersion": {}})
    with pytest.raises(TypeError):
        client.complete(CLAIM, ETH, expected_version="0")
    assert len(mocked.calls) == 0


# --- Hostile ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim_id", "segment"),
    [
        ("../../storeActions/single", "..%2F..%2FstoreActions%2Fsingle"),
        ("abc?admin=1#x", "abc%3Fadmin%3D1%23x"),
        ("a b/c", "a%20b%2Fc"),
        ("%2e%2e", "%252e%252e"),
    ],
)
def test_a_hostile_claim_id_stays_in_its_path_segment(client, mocked, claim_id, segment):
    mocked.add(responses.POST, re.compile(f"{API}/.*"), json={"claimAttemptId": ATTEMPT})
    client.complete(claim_id, ETH)
    url = mocked.calls[0].request.url
    assert url == f"{API}/api/v0/claims/complete/{segment}/{BB}"


@pytest.mark.parametrize("claim_id", ["", "  ", ".", "..", "x" * 300, "line\nbreak", None])
def test_an_unusable_claim_id_is_refused_before_any_request(client, mocked, claim_id):
    with pytest.raises(ClaimNotFound):
        client.complete(claim_id, ETH)
    with pytest.raises(ClaimNotFound):
        client.get_claim(claim_id)
    assert len(mocked.calls) == 0


@pytest.mark.parametrize("attempt_id", ["", "..", None])
def test_an_unusable_attempt_id_is_refused_before_any_request(client, mocked, attempt_id):
    with pytest.raises(BitBadgesError, match="claim attempt id"):
        client.attempt_status(attempt_id)
    assert len(mocked.calls) == 0


def test_a_hostile_attempt_id_is_quoted(client, mocked):
    mocked.add(responses.GET, re.compile(f"{API}/.*"), json={"success": True, "error": ""})
    client.attempt_status("../../claim/x")
    assert mocked.calls[0].request.url == f"{API}/api/v0/claims/status/..%2F..%2Fclaim%2Fx"


# --- Error classification ----------------------------------------------------------------


CLAIM_FAILURES = [
    # IDX-2024: every claim failure was a 500, plugin failures wrapped.
    (500, {"errorMessage": "Overall max uses exceeded"}, ClaimExhausted),
    (
        500,
        {"errorMessage": WRAP.format(plugin="Number of Uses", message="Overall max uses exceeded")},
        ClaimExhausted,
    ),
    (
        500,
        {"errorMessage": WRAP.format(plugin="Password", message="Incorrect password")},
        WrongPassword,
    ),
    (400, {"errorMessage": "Incorrect password"}, WrongPassword),
    (500, {"errorMessage": "error: INCORRECT PASSWORD"}, WrongPassword),
    (
        500,
        {"errorMessage": WRAP.format(plugin="Whitelist", message="User already exceeded max uses")},
        AlreadyClaimed,
    ),
    (400, {"errorMessage": "User not in whitelist"}, NotWhitelisted),
    (
        500,
        {"errorMessage": WRAP.format(plugin="Whitelist", message="User not in whitelist")},
        NotWhitelisted,
    ),
    (
        500,
        {
            "errorMessage": WRAP.format(
                plugin="Transfer Times",
                message="We are currently outside the approved time window.",
            )
        },
        OutsideWindow,
    ),
    (500, {"errorMessage": "Claim halted"}, ClaimHalted),
    (401, {"errorMessage": "Must be authenticated to claim"}, SignInRequired),
    (
        500,
        {
            "errorMessage": WRAP.format(
                plugin="Requires Proof of Address", message="Must be authenticated to claim"
            )
        },
        SignInRequired,
    ),
    # IDX-2024's route-level check for a claim with initiatedBy (claims.ts:473).
    (
        500,
        {"errorMessage": "Authentication required with the Complete Claims scope"},
        SignInRequired,
    ),
    # The docs' second initiatedBy text says "Invalid address": it is about sign-in, not
    # about the member's address.
    (
        500,
        {
            "errorMessage": WRAP.format(
                plugin="Requires Proof of Address",
                message="Invalid address. Provided address does not match the address of the "
                "signed in user.",
            )
        },
        SignInRequired,
    ),
    (
        500,
        {
            "errorMessage": "This claim is for manual distribution only. BitBadges does not "
            "handle any distribution for this claim."
        },
        ClaimMisconfigured,
    ),
    (500, {"errorMessage": "No numUses plugin found"}, ClaimMisconfigured),
    (
        500,
        {"errorMessage": WRAP.format(plugin="Password", message="Invalid configuration")},
        ClaimMisconfigured,
    ),
    (
        500,
        {
            "errorMessage": "Error on typia.assert(): invalid type on $input.password, expect "
            "to be string"
        },
        ClaimMisconfigured,
    ),
    (
        400,
        {"errorMessage": 'Invalid request payload. [{"path":"$input._expectedVersion"}]'},
        ClaimMisconfigured,
    ),
    (
        500,
        {"errorMessage": WRAP.format(plugin="Transfer Times", message="Invalid transfer time")},
        OutsideWindow,
    ),
    (
        500,
        {
            "errorMessage": WRAP.format(
                plugin="Whitelist", message="User not in list of whitelisted users."
            )
        },
        NotWhitelisted,
    ),
    (500, {"errorMessage": "Claim has been updated since last fetch"}, VersionMismatch),
    (400, {"errorMessage": "Expected version 2 but claim is at version 3"}, VersionMismatch),
    (500, {"errorMessage": "No doc found"}, ClaimNotFound),
    (404, {"errorMessage": "No doc found"}, ClaimNotFound),
    (500, {"errorMessage": "Invalid claimId format"}, ClaimNotFound),
    (
        500,
        {"errorMessage": "Could not convert. Please make sure inputted address is well-formed"},
        InvalidAddress,
    ),
    (
        500,
        {"errorMessage": WRAP.format(plugin="Codes", message="Code already used")},
        ClaimRejected,
    ),
    (500, {"errorMessage": WRAP.format(plugin="Mystery", message="Kaboom")}, ClaimRejected),
    # Text in `error` rather than `errorMessage` counts too.
    (500, {"errorMessage": "Error", "error": "Overall max uses exceeded"}, ClaimExhausted),
]


@pytest.mark.parametrize(("status", "body", "cls"), CLAIM_FAILURES)
def test_claim_failures_are_classified_by_their_text(client, mocked, status, body, cls):
    mocked.add(responses.POST, COMPLETE_URL, status=status, json=body)
    with pytest.raises(cls) as caught:
        client.complete(CLAIM, ETH)
    assert type(caught.value) is cls
    assert caught.value.transient is False
    assert caught.value.status == status
    assert len(mocked.calls) == 1  # permanent: never retried


@pytest.mark.parametrize(("status", "body", "cls"), CLAIM_FAILURES)
def test_a_known_failure_is_not_retried_even_on_an_idempotent_call(
    client, mocked, clock, status, body, cls
):
    mocked.add(responses.POST, SIMULATE_URL, status=status, json=body)
    with pytest.raises(cls):
        client.simulate(CLAIM, ETH)
    assert len(mocked.calls) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"errorMessage": "Not here"}),
        (400, {"errorMessage": "Something we have never seen"}),
        (500, {"errorMessage": "Something new went wrong"}),
        (403, "<html>Forbidden</html>"),
    ],
)
def test_an_unrecognised_refusal_of_complete_is_an_unknown_outcome(client, mocked, status, body):
    # `complete` may have queued an attempt before BitBadges said something we do not
    # know: nothing is concluded, and it is verified before anything is sent again.
    if isinstance(body, dict):
        mocked.add(responses.POST, COMPLETE_URL, status=status, json=body)
    else:
        mocked.add(responses.POST, COMPLETE_URL, status=status, body=body)
    with pytest.raises(Unavailable) as caught:
        client.complete(CLAIM, ETH)
    assert caught.value.outcome_unknown is True
    assert caught.value.transient is True
    assert caught.value.status == status
    assert "check before trying again" in str(caught.value)
    assert len(mocked.calls) == 1  # and never resent by the client


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (404, {"errorMessage": "Not here"}, ClaimNotFound),
        (400, {"errorMessage": "Something we have never seen"}, ClaimRejected),
    ],
)
def test_an_unrecognised_refusal_of_simulate_is_a_refusal(client, mocked, status, body, cls):
    # A simulation changes nothing: its refusal stands as one.
    mocked.add(responses.POST, SIMULATE_URL, status=status, json=body)
    with pytest.raises(cls) as caught:
        client.simulate(CLAIM, ETH)
    assert type(caught.value) is cls
    assert caught.value.outcome_unknown is False


def test_str_reads_well_for_a_person(client, mocked):
    mocked.add(
        responses.POST, COMPLETE_URL, status=500, json={"errorMessage": "Incorrect password"}
    )
    with pytest.raises(WrongPassword) as caught:
        client.complete(CLAIM, ETH)
    assert str(caught.value) == "complete claim: Incorrect password (HTTP 500)"
    assert caught.value.message == "Incorrect password"
    assert caught.value.operation == "complete claim"


def test_401_is_unauthorized_with_a_hint(client, mocked):
    body = {"errorMessage": "Unauthorized request. Error validating API key.", "unauthorized": True}
    mocked.add(responses.POST, COMPLETE_URL, status=401, json=body)
    with pytest.raises(Unauthorized) as caught:
        client.complete(CLAIM, ETH)
    assert caught.value.status == 401
    assert caught.value.transient is False
    assert "BITBADGES_API_KEY" in str(caught.value)
    assert len(mocked.calls) == 1


# BitBadges' docs (api/README.md), word for word: the top-up link is relative to its web app.
NO_CREDITS = {
    "error": "Insufficient credits",
    "errorMessage": "Insufficient API credits. Top up at /developer?tab=apiKeys.",
    "topUpUrl": "/developer?tab=apiKeys",
    "onChainTotal": 100,
    "used": 100,
    "remaining": 0,
    "decimals": 6,
}


def test_402_is_payment_required_with_the_top_up_page_on_the_web_app(client, mocked):
    mocked.add(responses.GET, ATTEMPTS_URL, status=402, json=NO_CREDITS)
    with pytest.raises(PaymentRequired) as caught:
        client.success_count(CLAIM, ETH)
    assert caught.value.top_up_url == "https://bitbadges.io/developer?tab=apiKeys"
    assert "Top up at https://bitbadges.io/developer?tab=apiKeys" in str(caught.value)
    assert caught.value.message.startswith("Insufficient API credits")
    assert caught.value.transient is False
    assert len(mocked.calls) == 1


def test_the_web_app_is_a_setting_and_absolute_links_are_kept(mocked):
    with override_settings(
        BITBADGES_API_URL=API, BITBADGES_API_KEY=KEY, BITBADGES_SITE_URL="https://staging.example/"
    ):
        client = bitbadges.get_client()
    mocked.add(responses.POST, SIMULATE_URL, status=402, json=NO_CREDITS)
    with pytest.raises(PaymentRequired) as caught:
        client.simulate(CLAIM, ETH)
    assert caught.value.top_up_url == "https://staging.example/developer?tab=apiKeys"
    mocked.replace(
        responses.POST,
        SIMULATE_URL,
        status=402,
        json={**NO_CREDITS, "topUpUrl": "https://x.test/t"},
    )
    with pytest.raises(PaymentRequired) as caught:
        client.simulate(CLAIM, ETH)
    assert caught.value.top_up_url == "https://x.test/t"


def test_an_unrecognised_5xx_on_complete_is_unavailable_with_outcome_unknown(client, mocked):
    mocked.add(responses.POST, COMPLETE_URL, status=503, body="<html>Service Unavailable</html>")
    with pytest.raises(Unavailable) as caught:
        client.complete(CLAIM, ETH)
    assert caught.value.outcome_unknown is True
    assert caught.value.transient is True
    assert "HTML page" in caught.value.message
    assert "check before trying again" in str(caught.value)
    assert len(mocked.calls) == 1


def test_error_classes_say_whether_to_try_again():
    assert RateLimited.transient and Unavailable.transient and InvalidResponse.transient
    assert AttemptTimeout.transient and AttemptTimeout.outcome_unknown
    for cls in (ClaimRejected, WrongPassword, Unauthorized, PaymentRequired, NotConfigured):
        assert cls.transient is False
    assert issubclass(InvalidAddress, ClaimRejected) and issubclass(ClaimRejected, BitBadgesError)


# --- Other claim routes --------------------------------------------------------------


def _attempt(address=BB, number=0, success=True, **extra):
    return {
        "success": success,
        "attemptedAt": 1767225600000,
        "claimId": CLAIM,
        "bitbadgesAddress": address,
        "claimAttemptId": f"{number:064x}",
        "claimNumber": number,
        **extra,
    }


def test_success_count_reads_the_successful_attempts_of_the_address(client, mocked):
    # As BitBadges' SDK reads it since the success route was removed: GET with the
    # address (bb1) as a query parameter; `total` counts the successes.
    mocked.add(
        responses.GET,
        ATTEMPTS_URL,
        json={"docs": [_attempt(number=0), _attempt(number=3)], "total": 2},
        match=[
            matchers.query_param_matcher({"address": BB}),
            matchers.header_matcher({"x-api-key": KEY}),
        ],
    )
    assert client.success_count(CLAIM, ETH_LOWER) == 2
    assert [call.request.method for call in mocked.calls] == ["GET"]


@pytest.mark.parametrize(
    ("body", "count"),
    [
        ({"docs": []}, 0),
        ({"docs": [], "total": 0}, 0),
        ({"docs": [_attempt()], "bookmark": "b"}, 1),  # no total on a bookmarked page
        ({"docs": [_attempt()], "total": "3"}, 3),  # NumberType as a string
        ({"docs": [_attempt(address=BB.upper())], "total": 1}, 1),
        # A failed attempt is not a success, and then `total` is not trusted either.
        ({"docs": [_attempt(success=False, error="Error: Incorrect password")], "total": 1}, 0),
        ({"docs": [_attempt(), _attempt(number=1, success=False, error="x")], "total": 5}, 1),
    ],
)
def test_success_count_counts_only_successes(client, mocked, body, count):
    mocked.add(responses.GET, ATTEMPTS_URL, json=body)
    assert client.success_count(CLAIM, ETH) == count


def test_attempts_of_another_address_are_never_counted(client, mocked):
    # A server that ignored the address filter would count other members' badges.
    other = "bb1z3t55m0l9h0eupuz3dp5t5cypyv674jjl8mh5h"
    mocked.add(responses.GET, ATTEMPTS_URL, json={"docs": [_attempt(address=other)], "total": 1})
    with pytest.raises(CannotVerify, match="other addresses") as caught:
        client.success_count(CLAIM, ETH)
    assert caught.value.transient and caught.value.outcome_unknown


@pytest.mark.parametrize(
    "body",
    [{}, {"docs": "x"}, {"docs": [1]}, {"docs": [{"success": "yes"}]}, [], {"docs": None}],
)
def test_a_malformed_attempts_page_is_an_invalid_response(client, mocked, body):
    mocked.add(responses.GET, ATTEMPTS_URL, json=body)
    with pytest.raises(InvalidResponse):
        client.success_count(CLAIM, ETH)


def test_the_old_success_route_is_asked_only_where_the_attempts_route_is_missing(client, mocked):
    mocked.add(responses.GET, ATTEMPTS_URL, status=404, json={"errorMessage": "Route not found"})
    mocked.add(responses.GET, SUCCESS_URL, json={"successCount": "1", "claimNumbers": [0]})
    assert client.success_count(CLAIM, ETH) == 1
    assert [call.request.url.split("?")[0] for call in mocked.calls] == [ATTEMPTS_URL, SUCCESS_URL]


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, {"errorMessage": "Route not found"}), (404, "Cannot GET /api/v0/claims/success")],
)
def test_a_404_on_the_old_success_route_means_cannot_tell_never_not_found(
    client, mocked, status, body
):
    # BitBadges removed the route; its 404 says nothing about the claim.
    mocked.add(responses.GET, ATTEMPTS_URL, status=404, body="Cannot GET")
    if isinstance(body, dict):
        mocked.add(responses.GET, SUCCESS_URL, status=status, json=body)
    else:
        mocked.add(responses.GET, SUCCESS_URL, status=status, body=body)
    with pytest.raises(CannotVerify) as caught:
        client.success_count(CLAIM, ETH)
    assert not isinstance(caught.value, ClaimRejected)
    assert caught.value.transient and caught.value.outcome_unknown
    assert "BITBADGES_API_URL" in str(caught.value)


@pytest.mark.parametrize(("value", "count"), [(0, 0), (2, 2), ("3", 3), (" 1 ", 1)])
def test_the_old_success_route_parses_numbers_and_strings(client, mocked, value, count):
    mocked.add(responses.GET, ATTEMPTS_URL, status=404, json={"errorMessage": "Not found"})
    mocked.add(responses.GET, SUCCESS_URL, json={"successCount": value, "claimNumbers": []})
    assert client.success_count(CLAIM, ETH) == count


# "²" and "٣" are digits to str.isdigit(), not to int().
@pytest.mark.parametrize("value", [None, "many", -1, 1.5, True, "²", "٣"])
def test_a_bad_success_count_is_an_invalid_response(client, mocked, value):
    mocked.add(responses.GET, ATTEMPTS_URL, status=404, json={"errorMessage": "Not found"})
    mocked.add(responses.GET, SUCCESS_URL, json={"successCount": value})
    with pytest.raises(InvalidResponse, match="successCount"):
        client.success_count(CLAIM, ETH)


def test_success_count_of_an_unknown_claim(client, mocked):
    mocked.add(responses.GET, ATTEMPTS_URL, status=500, json={"errorMessage": "No doc found"})
    with pytest.raises(ClaimNotFound):
        client.success_count(CLAIM, ETH)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"errorMessage": "You must be the manager of this claim"}),  # hideCurrentState
        (403, {"errorMessage": "Forbidden"}),
        (400, {"errorMessage": "Invalid request payload."}),
    ],
)
def test_a_refusing_attempts_route_means_cannot_tell(client, mocked, clock, status, body):
    # Whatever BitBadges says when it will not list attempts (a claim hiding its state
    # answers so for anyone but its manager), it is never read as "no successes".
    mocked.add(responses.GET, ATTEMPTS_URL, status=status, json=body)
    with pytest.raises(CannotVerify) as caught:
        client.success_count(CLAIM, ETH)
    assert caught.value.transient and caught.value.outcome_unknown
    assert body["errorMessage"].rstrip(".") in str(caught.value)


def test_a_refusing_attempts_route_is_logged_once(client, mocked, caplog):
    mocked.add(responses.GET, ATTEMPTS_URL, status=403, json={"errorMessage": "Forbidden"})
    with caplog.at_level(logging.INFO, logger="claims.bitbadges"), pytest.raises(CannotVerify):
        client.success_count(CLAIM, ETH)
    failures = [r for r in caplog.records if getattr(r, "upstream", None) == "BitBadges"]
    assert len(failures) == 1, [r.getMessage() for r in failures]


def test_claim_attempts_sends_its_options(client, mocked):
    mocked.add(
        responses.GET,
        ATTEMPTS_URL,
        json={"docs": [_attempt(success=False, error="Error: Claim halted")], "bookmark": "n2"},
        match=[
            matchers.query_param_matcher({"address": BB, "includeErrors": "true", "bookmark": "n1"})
        ],
    )
    page = client.claim_attempts(CLAIM, address=ETH, include_errors=True, bookmark="n1")
    assert page.bookmark == "n2" and page.total is None
    [attempt] = page.attempts
    assert (attempt.success, attempt.error, attempt.address) == (False, "Claim halted", BB)


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        ({"json": {"success": True, "error": ""}}, None),
        ({"status": 500, "json": {"errorMessage": "No doc found"}}, None),  # pending
        ({"status": 401, "json": {"errorMessage": "Unauthorized request."}}, Unauthorized),
        ({"status": 402, "json": NO_CREDITS}, PaymentRequired),
        ({"status": 503, "json": {"errorMessage": "down"}}, Unavailable),
    ],
)
def test_probe_makes_one_cheap_call_and_raises_only_for_the_key_or_credits(
    client, mocked, answer, raised
):
    url = f"{API}/api/v0/claims/status/{'0' * 64}"
    mocked.add(responses.GET, url, **answer)
    if raised is None:
        assert client.probe() is None
    else:
        with pytest.raises(raised):
            client.probe()
    assert mocked.calls[0].request.url == url


def test_get_claim_unwraps_the_claim(client, mocked):
    mocked.add(
        responses.GET,
        CLAIM_URL,
        json=claim_body(),
        match=[matchers.query_param_matcher({})],
    )
    claim = client.get_claim(CLAIM)
    assert claim["claimId"] == CLAIM
    assert [p["instanceId"] for p in claim["plugins"]] == ["numuses1", "pwd1"]


def test_get_claim_asks_for_private_params(client, mocked):
    mocked.add(
        responses.GET,
        CLAIM_URL,
        json=claim_body(),
        match=[matchers.query_param_matcher({"fetchPrivateParams": "true"})],
    )
    assert client.get_claim(CLAIM, private_params=True)["version"] == "0"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"errorMessage": "No doc found"}),
        (500, {"errorMessage": "No doc found"}),
        (404, {"errorMessage": "Claim not found"}),
        (200, {"claim": None}),
    ],
)
def test_get_claim_of_an_unknown_claim(client, mocked, status, body):
    mocked.add(responses.GET, CLAIM_URL, status=status, json=body)
    with pytest.raises(ClaimNotFound):
        client.get_claim(CLAIM)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("body", [{}, {"claim": "x"}, {"claim": {"claimId": CLAIM}}, []])
def test_get_claim_checks_the_shape(client, mocked, body):
    mocked.add(responses.GET, CLAIM_URL, json=body)
    with pytest.raises(InvalidResponse):
        client.get_claim(CLAIM)


# --- Dynamic stores ------------------------------------------------------------------


@pytest.mark.parametrize("action", ["add", "remove"])
def test_store_actions_post_the_single_action_body(client, mocked, action):
    mocked.add(
        responses.POST,
        STORE_ACTION_URL,
        json={},
        match=[
            matchers.header_matcher({"x-api-key": KEY}),
            matchers.json_params_matcher(
                {
                    "dynamicDataId": "store123",
                    "dataSecret": STORE_SECRET,
                    "actionName": action,
                    "payload": {"address": BB},
                }
            ),
        ],
    )
    method = client.store_add if action == "add" else client.store_remove
    assert method("store123", STORE_SECRET, BB) is None
    assert len(mocked.calls) == 1


def test_a_store_action_accepts_an_empty_body(client, mocked):
    mocked.add(responses.POST, STORE_ACTION_URL, body="", status=200)
    client.store_add("store123", STORE_SECRET, ETH_LOWER)
    assert sent_json(mocked.calls[0])["payload"] == {"address": BB}  # bb1, as stores keep it


@pytest.mark.parametrize("in_store", [True, False])
def test_store_contains_reads_in_store(client, mocked, in_store):
    mocked.add(
        responses.GET,
        STORE_VALUE_URL,
        json={"key": BB, "inStore": in_store},
        match=[matchers.query_param_matcher({"key": BB, "dataSecret": STORE_SECRET})],
    )
    assert client.store_contains("store123", STORE_SECRET, ETH) is in_store


@pytest.mark.parametrize("body", [{"key": ETH}, {"inStore": "yes"}, []])
def test_store_contains_without_in_store_is_invalid(client, mocked, body):
    mocked.add(responses.GET, STORE_VALUE_URL, json=body)
    with pytest.raises(InvalidResponse, match="inStore"):
        client.store_contains("store123", STORE_SECRET, ETH)


@pytest.mark.parametrize("status", [400, 401, 404, 500])
@pytest.mark.parametrize("message", ["Invalid data secret", "Dynamic data doc not found"])
@pytest.mark.parametrize("call", ["store_add", "store_remove", "store_contains"])
def test_a_refused_store_stops_at_once(client, mocked, clock, message, status, call):
    # No source gives the store routes' status codes: the text decides, whatever the code.
    mocked.add(responses.POST, STORE_ACTION_URL, status=status, json={"errorMessage": message})
    mocked.add(responses.GET, STORE_VALUE_URL, status=status, json={"errorMessage": message})
    with pytest.raises(StoreRefused) as caught:
        getattr(client, call)("store123", STORE_SECRET, ETH)
    assert not isinstance(caught.value, ClaimRejected)
    assert caught.value.transient is False and caught.value.outcome_unknown is False
    assert caught.value.message == message
    assert "store secret" in str(caught.value)
    assert len(mocked.calls) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("message", ["Bad payload", "No doc found"])
def test_an_unrecognised_refusal_of_a_store_change_is_an_unknown_outcome(client, mocked, message):
    # The add may have been queued: the store is looked at before it is sent again.
    mocked.add(responses.POST, STORE_ACTION_URL, status=400, json={"errorMessage": message})
    with pytest.raises(Unavailable) as caught:
        client.store_remove("store123", STORE_SECRET, ETH)
    assert caught.value.outcome_unknown is True
    assert str(caught.value).startswith(f"remove from dynamic store: {message} (HTTP 400)")


def test_an_unrecognised_refusal_of_a_store_lookup_is_a_plain_error(client, mocked):
    mocked.add(responses.GET, STORE_VALUE_URL, status=400, json={"errorMessage": "Bad key"})
    with pytest.raises(BitBadgesError) as caught:
        client.store_contains("store123", STORE_SECRET, ETH)
    assert type(caught.value) is BitBadgesError
    assert str(caught.value) == "look up dynamic store: Bad key (HTTP 400)"


# --- Secrets -------------------------------------------------------------------------


def test_the_api_key_and_secrets_never_reach_logs_or_messages(client, mocked, caplog):
    echo = {"errorMessage": f"bad key {KEY} and secret {STORE_SECRET}", "dataSecret": STORE_SECRET}
    mocked.add(responses.POST, COMPLETE_URL, status=503, json={"errorMessage": f"bad key {KEY}"})
    mocked.add(responses.GET, STORE_VALUE_URL, status=503, json=echo)
    mocked.add(responses.POST, STORE_ACTION_URL, body=requests.exceptions.ReadTimeout(KEY))
    mocked.add(responses.POST, SIMULATE_URL, status=200, body=f"oops {KEY}")
    mocked.add(
        responses.POST,
        f"{API}/api/v0/claims/complete/{CLAIM}/{BB}",
        status=400,
        json={"errorMessage": "Incorrect password hunter2-secret"},
    )
    errors = []
    with caplog.at_level(logging.DEBUG, logger="claims.bitbadges"):
        for call in (
            lambda: client.complete(CLAIM, ETH),
            lambda: client.store_contains("store123", STORE_SECRET, ETH),
            lambda: client.store_add("store123", STORE_SECRET, ETH),
            lambda: client.simulate(CLAIM, ETH),
            lambda: client.complete(CLAIM, BB, inputs={"pwd1": {"password": "hunter2-secret"}}),
        ):
            with pytest.raises(BitBadgesError) as caught:
                call()
            errors.append(caught.value)
    assert caplog.records, "the client should log its calls"
    texts = [r.getMessage() for r in caplog.records]
    texts += [str(e) for e in errors] + [repr(e.body) for e in errors] + [e.message for e in errors]
    for text in texts:
        for secret in (KEY, STORE_SECRET, "hunter2-secret"):
            assert secret not in text
    assert "[redacted]" in str(errors[0])
    assert errors[1].body["dataSecret"] == "[redacted]"
    assert len(mocked.calls) >= 5
    # The key did go out, in its header.
    assert mocked.calls[0].request.headers["x-api-key"] == KEY


def test_the_store_query_string_is_not_logged(client, mocked, caplog):
    mocked.add(responses.GET, STORE_VALUE_URL, json={"inStore": True})
    with caplog.at_level(logging.DEBUG, logger="claims.bitbadges"):
        client.store_contains("store123", STORE_SECRET, ETH)
    assert any("dynamicStore/store123/value" in r.getMessage() for r in caplog.records)
    assert all(STORE_SECRET not in r.getMessage() for r in caplog.records)
    assert STORE_SECRET in mocked.calls[0].request.url  # but it was sent
