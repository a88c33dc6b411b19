"""Property-based fuzz of every parser of outside input: the webhook bodies (both
endpoints, and the JSON views' bodies, through the test client), BitBadges addresses,
signed references, action/proxy results, sandbox fault specs and the rate-limit setting.
Each either answers as documented or raises its documented error, nothing else.

Hypothesis runs derandomized with no deadline, a modest number of examples each."""

import datetime
import json
import math
import uuid

import pytest
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims import rules
from connections import references
from core import addresses
from sandbox.common import faults

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
hostile_bytes = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.integers(min_value=1, max_value=50_000).map(lambda n: b"[" * n),
    st.integers(min_value=1, max_value=20_000).map(lambda n: b'{"a":' * n),
    st.text(max_size=100).map(lambda text: text.encode("utf-8", "surrogatepass")),
)


# --- webhook and JSON view bodies, through the test client ---------------------------


@pytest.fixture
def session(member):
    from connections.models import App
    from tests.connections.services_support import make_session

    return make_session(member, App.objects.create(slug="github", name="GitHub", enabled=True))


@pytest.mark.django_db
@FUZZ
@given(body=hostile_bytes, with_reference=st.booleans())
def test_connect_webhook_never_500(session, body, with_reference):
    from connections import services

    url = "/connect/webhook/"
    if with_reference:
        url += "?s=" + services.session_reference(session)
    cache.clear()  # each example starts below the limits (a test of their own holds them)
    response = Client().post(url, data=body, content_type="application/json")
    assert 200 <= response.status_code < 500
    assert response.status_code in (202, 400, 403, 413)


@pytest.mark.django_db
@FUZZ
@given(body=hostile_bytes, reference=st.text(max_size=60), event_id=st.text(max_size=20))
def test_trigger_webhook_never_500(body, reference, event_id):
    headers = {"HTTP_X_PD_SIGNATURE": f"t=1,v1={'0' * 64}", "HTTP_X_PD_EVENT_ID": event_id}
    response = Client().post(
        "/claims/trigger-webhook/",
        data=body,
        content_type="application/json",
        QUERY_STRING=f"d={reference}".encode("utf-8", "surrogatepass").decode("latin-1"),
        **headers,
    )
    assert response.status_code in (400, 401, 410, 413)


@pytest.mark.django_db
@FUZZ
@given(body=hostile_bytes, path=st.sampled_from(["/connect/token/", "/connect/callback/"]))
def test_the_json_views_never_500(member, body, path):
    client = Client()
    client.force_login(member)
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.json()


# --- BitBadges addresses --------------------------------------------------------------


@FUZZ
@given(account=st.binary(min_size=20, max_size=20))
def test_valid_addresses_round_trip(account):
    eth = addresses.eth_checksum(account.hex())
    bb1 = addresses.to_bitbadges_address(eth)
    assert addresses.parse_address(eth) == account
    assert addresses.parse_address(bb1) == account
    assert addresses.normalize_address(eth.lower()) == eth
    assert addresses.normalize_address(bb1.upper()) == bb1
    assert addresses.to_eth_address(bb1) == eth


@FUZZ
@given(
    value=st.one_of(
        st.text(max_size=120),
        st.text(alphabet="0123456789abcdefABCDEFxX", max_size=44).map(lambda t: "0x" + t),
        st.text(alphabet="qpzry9x8gf2tvdw0s3jn54khce6mua7lQPZ", max_size=60).map(
            lambda t: "bb1" + t
        ),
        st.integers(),
        st.none(),
        st.binary(max_size=40),
    )
)
def test_anything_else_is_a_validation_error(value):
    try:
        account = addresses.parse_address(value)
    except ValidationError:
        return
    # Accepted: then it is one of the two spellings of 20 bytes, and normalises.
    assert isinstance(value, str) and len(account) == 20
    assert addresses.parse_address(addresses.normalize_address(value)) == account


# --- signed references ------------------------------------------------------------------


@FUZZ
@given(text=st.text(max_size=300))
def test_random_session_references_never_verify(text):
    assert references.session_reference_read(text) is None


@FUZZ
@given(position=st.integers(min_value=0), replacement=st.characters())
def test_tampered_session_references_never_verify(position, replacement):
    public_id = uuid.UUID(int=123456789)
    good = references.session_reference_make(public_id)
    assert references.session_reference_read(good) == public_id
    index = position % len(good)
    tampered = good[:index] + replacement + good[index + 1 :]
    if tampered != good:
        assert references.session_reference_read(tampered) is None


@FUZZ
@given(text=st.text(max_size=600))
def test_random_emailed_links_are_invalid(text):
    with pytest.raises(references.EmailedLinkInvalid):
        references.emailed_link_read(text)


@FUZZ
@given(position=st.integers(min_value=0), replacement=st.characters())
def test_tampered_emailed_links_are_invalid(position, replacement):
    good = references.emailed_link_sign(
        member_pk=1,
        external_id="ext",
        app_slug="github",
        expires_at=datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC),
    )
    assert references.emailed_link_read(good)["app_slug"] == "github"
    index = position % len(good)
    tampered = good[:index] + replacement + good[index + 1 :]
    if tampered != good:
        with pytest.raises(references.EmailedLinkInvalid):
            references.emailed_link_read(tampered)


@FUZZ
@given(text=st.text(max_size=300))
def test_trigger_references_only_verify_when_ours(text):
    """The trigger webhook's ?d=: anything but our own signature is BadSignature."""
    from claims import triggers

    with pytest.raises(signing.BadSignature):
        signing.loads(text, salt=triggers.REFERENCE_SALT)


@pytest.mark.django_db
@FUZZ
@given(text=st.text(max_size=200))
def test_trigger_delivery_with_any_reference_is_refused(text):
    from claims import triggers

    delivery = triggers.delivery_receive(reference=text, headers={}, body=b"{}")
    assert delivery.outcome == "refused" and delivery.http_status == 400


# --- action / proxy results --------------------------------------------------------------


@FUZZ
@given(
    result=json_values,
    path=st.one_of(st.text(max_size=20), st.lists(st.text(max_size=4), max_size=4).map(".".join)),
    comparison=st.sampled_from(list(rules.COMPARISON_WORDS)),
    expected=st.text(max_size=20),
    text=st.text(max_size=10),
)
def test_criterion_rules_never_raise(result, path, comparison, expected, text):
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    value = rules.extract(result, path)
    assert isinstance(rules.compare(value, comparison, expected), bool)
    outcome = rules.criterion_rule(
        result, path=path, comparison=comparison, expected=expected, now=now, text=text
    )
    assert isinstance(outcome.passed, bool)
    assert len(outcome.value) <= rules.VALUE_SEEN_MAX
    identity = rules.identity_of(result, path)
    assert identity is None or (isinstance(identity, str) and len(identity) <= 200)


@FUZZ
@given(result=json_values)
def test_the_empty_path_is_the_whole_result(result):
    assert rules.extract(result, "") == result or result != result  # NaN is never equal


# --- sandbox fault specs and the rate-limit setting -------------------------------------


# What JSON (Python's json, as SANDBOX_FAULTS is read) can spell beyond plain numbers.
ODD_NUMBERS = [float("inf"), float("-inf"), float("nan"), 1e308, -0.0, 10**40, "1e999", "nan"]


@FUZZ
@given(
    spec=st.one_of(
        json_values,
        st.dictionaries(
            st.sampled_from(sorted(faults.SPEC_KEYS)),
            json_values | st.sampled_from(ODD_NUMBERS),
            max_size=6,
        ),
    )
)
def test_fault_specs_clean_or_raise_fault_spec_error(spec):
    try:
        cleaned = faults.clean_spec(spec)
    except faults.FaultSpecError:
        return
    assert set(cleaned) == faults.SPEC_KEYS
    assert 0 <= cleaned["rate"] <= 1
    for key in ("latency_ms", "hang_seconds", "retry_after"):
        assert math.isfinite(cleaned[key]) and cleaned[key] >= 0
    assert isinstance(faults.describe(cleaned), str)


@FUZZ
@given(raw=st.text(max_size=20))
def test_the_rate_limit_setting_parses_or_is_improperly_configured(monkeypatch, raw):
    from config.environment import rate_limit

    if "\x00" in raw:
        return  # an environment variable cannot hold NUL
    monkeypatch.setenv("ATTACK_RATE_LIMIT", raw)
    try:
        count, seconds = rate_limit("ATTACK_RATE_LIMIT", "5/60")
    except ImproperlyConfigured as exc:
        assert "ATTACK_RATE_LIMIT" in str(exc)
        return
    assert count >= 1 and seconds >= 1
