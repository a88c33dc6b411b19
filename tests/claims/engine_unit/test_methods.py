"""The delivery methods' pure parts: the registry, verdicts, the shared checks, and the
settings checks that need no call or only a stand-in client (no database, no network)."""

import dataclasses
from types import SimpleNamespace

import pytest

from claims import bitbadges
from claims.engine.errors import Transient
from claims.engine.methods import METHODS, DeliveryMethod, Verdict, claim_problems, method_of
from claims.engine.methods.base import CONFIRMED, recorded_attempt, verify_by_attempts
from claims.models import Claim
from claims.preflight import PROBE_ADDRESS, CheckUnavailable, ClaimSettings, Problem

ADDRESS = "bb1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqs7gvmv"


class Client:
    """A stand-in BitBadges client: answers what it is given, records what it is asked."""

    def __init__(self, *, claim=None, raises=None, count=0, status=None, store_raises=None):
        self.claim, self.raises, self.count, self.status = claim, raises, count, status
        self.store_raises = store_raises
        self.calls = []

    def get_claim(self, claim_id):
        self.calls.append(("get_claim", claim_id))
        if self.raises:
            raise self.raises
        return self.claim

    def simulate(self, claim_id, address, *, inputs):
        self.calls.append(("simulate", claim_id, address, inputs))

    def success_count(self, claim_id, address):
        self.calls.append(("success_count", claim_id, address))
        return self.count

    def attempt_status(self, attempt_id):
        self.calls.append(("attempt_status", attempt_id))
        return self.status

    def store_contains(self, store_id, secret, address):
        self.calls.append(("store_contains", store_id, secret, address))
        if self.store_raises:
            raise self.store_raises
        return False


# --- the registry ---------------------------------------------------------------------


def test_every_delivery_choice_has_its_method_and_nothing_else_does():
    assert set(METHODS) == set(Claim.Delivery.values)
    for value, method in METHODS.items():
        assert method.value == value
        assert method_of(value) is method
        assert method.label


@pytest.mark.parametrize("unknown", ["", "carrier-pigeon", "BITBADGES", " bitbadges"])
def test_an_unknown_delivery_has_no_method(unknown):
    assert method_of(unknown) is None


def test_each_method_names_the_secret_it_needs_except_the_workflow():
    assert METHODS[Claim.Delivery.BITBADGES].secret[0] == "password"
    assert METHODS[Claim.Delivery.DYNAMIC_STORE].secret[0] == "store_secret"
    assert METHODS[Claim.Delivery.WORKFLOW].secret is None


def test_only_the_workflow_waits_for_an_admin_after_a_sure_failure():
    assert {value for value, m in METHODS.items() if not m.resends_by_itself} == {
        Claim.Delivery.WORKFLOW
    }


# --- Verdict and the base class -------------------------------------------------------


def test_a_verdict_is_frozen_and_defaults_to_no_reference_or_note():
    verdict = Verdict(False)
    assert (verdict.delivered, verdict.reference, verdict.note) == (False, "", "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.delivered = True
    assert Verdict(True, "ref", "n") == Verdict(True, "ref", "n")
    assert Verdict(True, "ref") != Verdict(True, "other")


def test_the_base_method_makes_a_subclass_say_how_it_sends_and_checks():
    method = DeliveryMethod()
    claim = Claim(bitbadges_claim_id="abc")
    with pytest.raises(NotImplementedError):
        method.send(SimpleNamespace())
    with pytest.raises(NotImplementedError):
        method.verify(SimpleNamespace())
    with pytest.raises(NotImplementedError):
        method.check_settings(Client(), ClaimSettings(delivery="x"))
    with pytest.raises(NotImplementedError):
        method.describe(claim)
    assert method.calls_bitbadges(claim) is True


@pytest.mark.parametrize(("claim_id", "expected"), [("abc", True), ("", False)])
def test_attempts_verify_only_a_claim_that_has_a_bitbadges_id(claim_id, expected):
    claim = Claim(bitbadges_claim_id=claim_id)
    assert DeliveryMethod().verified_by_attempts(claim) is expected
    assert METHODS[Claim.Delivery.BITBADGES].verified_by_attempts(claim) is expected
    assert METHODS[Claim.Delivery.DYNAMIC_STORE].verified_by_attempts(claim) is False


@pytest.mark.parametrize(("claim_id", "expected"), [("abc", True), ("", False)])
def test_a_workflow_calls_bitbadges_only_to_check_a_claim_it_names(claim_id, expected):
    claim = Claim(bitbadges_claim_id=claim_id)
    assert METHODS[Claim.Delivery.WORKFLOW].calls_bitbadges(claim) is expected
    assert METHODS[Claim.Delivery.BITBADGES].calls_bitbadges(claim) is True


def test_every_method_describes_itself_to_members_in_a_sentence():
    for method in METHODS.values():
        text = method.describe(Claim())
        assert text.endswith(".")
        assert len(text) > 20


# --- the shared checks: recorded_attempt, verify_by_attempts -------------------------


def test_a_pending_attempt_is_an_unknown_outcome_to_check_again():
    client = Client(status=SimpleNamespace(pending=True, success=False))
    with pytest.raises(Transient) as caught:
        recorded_attempt(client, "att-1")
    assert caught.value.outcome_unknown is True
    assert "att-1" in caught.value.detail
    assert client.calls == [("attempt_status", "att-1")]


@pytest.mark.parametrize("success", [True, False])
def test_a_resolved_attempt_is_returned_as_it_is(success):
    status = SimpleNamespace(pending=False, success=success)
    assert recorded_attempt(Client(status=status), "att-2") is status


@pytest.mark.parametrize("count", [1, 2, 10**9])
def test_a_successful_attempt_for_the_address_confirms_delivery(count):
    client = Client(count=count)
    verdict = verify_by_attempts(client, Claim(bitbadges_claim_id="claim-9"), ADDRESS)
    assert verdict.delivered is True
    assert ADDRESS in verdict.reference
    assert verdict.note == CONFIRMED
    assert client.calls == [("success_count", "claim-9", ADDRESS)]


@pytest.mark.parametrize("count", [0, -1])
def test_no_successful_attempt_means_not_delivered(count):
    verdict = verify_by_attempts(Client(count=count), Claim(bitbadges_claim_id="c"), ADDRESS)
    assert verdict.delivered is False
    assert verdict.reference == ""
    assert ADDRESS in verdict.note


# --- claim_problems and the settings checks ------------------------------------------


def test_an_unknown_delivery_has_no_problems_and_asks_nothing():
    client = Client()
    assert claim_problems(ClaimSettings(delivery="carrier-pigeon"), client=client) == []
    assert client.calls == []


def test_bitbadges_failing_to_answer_makes_the_check_unavailable():
    client = Client(raises=bitbadges.BitBadgesError("down", operation="get claim", status=503))
    settings = ClaimSettings(delivery=Claim.Delivery.BITBADGES, bitbadges_claim_id="c1")
    with pytest.raises(CheckUnavailable) as caught:
        claim_problems(settings, client=client)
    assert "down" in str(caught.value)
    assert isinstance(caught.value.__cause__, bitbadges.BitBadgesError)


def test_a_claim_bitbadges_does_not_have_is_one_problem_not_an_outage():
    client = Client(raises=bitbadges.ClaimNotFound("no such claim", status=404))
    settings = ClaimSettings(delivery=Claim.Delivery.BITBADGES, bitbadges_claim_id="gone")
    [problem] = claim_problems(settings, client=client)
    assert "gone" in problem.text
    assert problem.field == "bitbadges_claim_id"


def _bitbadges_settings(**overrides):
    values = {
        "delivery": Claim.Delivery.BITBADGES,
        "bitbadges_claim_id": "c1",
        "password_instance_id": "pw-1",
        "password": "",
    }
    return ClaimSettings(**{**values, **overrides})


def _password(instance="pw-1"):
    return {"pluginId": "password", "instanceId": instance}


def test_a_password_gated_claim_without_sign_in_has_no_problems():
    client = Client(claim={"plugins": [_password(), {"pluginId": "numUses"}]})
    assert claim_problems(_bitbadges_settings(), client=client) == []


def test_with_the_password_given_a_clean_claim_is_simulated_on_nobodys_address():
    client = Client(claim={"plugins": [_password()]})
    assert claim_problems(_bitbadges_settings(password="s3cret"), client=client) == []
    assert ("simulate", "c1", PROBE_ADDRESS, {"pw-1": {"password": "s3cret"}}) in client.calls


@pytest.mark.parametrize(
    ("claim", "field", "words"),
    [
        ({"plugins": [_password(), {"pluginId": "initiatedBy"}]}, "delivery", "sign-in"),
        ({"plugins": []}, "delivery", "no Password plugin"),
        ({}, "delivery", "no Password plugin"),
        ({"plugins": [_password("other")]}, "password_instance_id", "'other'"),
        ({"plugins": [_password(), {"pluginId": "discord"}]}, "delivery", "Discord"),
        (
            {"plugins": [_password()], "manualDistribution": True},
            "bitbadges_claim_id",
            "manual distribution",
        ),
    ],
)
def test_what_stops_a_bitbadges_claim_is_named_with_its_form_field(claim, field, words):
    client = Client(claim=claim)
    problems = claim_problems(_bitbadges_settings(password="s3cret"), client=client)
    assert [problem.field for problem in problems] == [field]
    assert words in problems[0].text
    assert problems[0].blocking is True
    # With something already wrong, nothing is simulated.
    assert [call[0] for call in client.calls] == ["get_claim"]


def test_plugins_that_are_not_objects_are_ignored():
    client = Client(claim={"plugins": [_password(), "initiatedBy", None, 3]})
    assert claim_problems(_bitbadges_settings(), client=client) == []


def test_a_dynamic_store_without_a_claim_id_gets_a_warning_and_no_call():
    client = Client()
    settings = ClaimSettings(delivery=Claim.Delivery.DYNAMIC_STORE, store_id="store-1")
    assert claim_problems(settings, client=client) == [
        Problem(
            "No BitBadges claim ID: the claim's plugins cannot be checked. Add it so this "
            "site can check the claim reads the store.",
            field="bitbadges_claim_id",
            blocking=False,
        )
    ]
    assert client.calls == []


def test_a_store_that_refuses_the_secret_is_a_problem_on_the_secret():
    client = Client(store_raises=bitbadges.StoreRefused("bad secret", status=401))
    settings = ClaimSettings(
        delivery=Claim.Delivery.DYNAMIC_STORE, store_id="store-1", store_secret="wrong"
    )
    problems = claim_problems(settings, client=client)
    assert [problem.field for problem in problems] == ["bitbadges_claim_id", "store_secret"]
    assert "bad secret" in problems[1].text
    assert ("store_contains", "store-1", "wrong", PROBE_ADDRESS) in client.calls


@pytest.mark.parametrize(
    ("plugin", "words"),
    [
        ({"pluginId": "whitelist", "publicParams": {"list": ["bb1x"]}}, "public address list"),
        ({"pluginId": "whitelist", "privateParams": {"dynamicDataId": "other"}}, "'other'"),
    ],
)
def test_a_whitelist_that_does_not_read_the_store_is_named(plugin, words):
    client = Client(claim={"plugins": [plugin]})
    settings = ClaimSettings(
        delivery=Claim.Delivery.DYNAMIC_STORE, bitbadges_claim_id="c1", store_id="store-1"
    )
    [problem] = claim_problems(settings, client=client)
    assert words in problem.text
    assert problem.field == "store_id"


def test_a_dynamic_store_claim_without_a_whitelist_lets_nobody_claim():
    client = Client(claim={"plugins": [{"pluginId": "numUses"}]})
    settings = ClaimSettings(
        delivery=Claim.Delivery.DYNAMIC_STORE, bitbadges_claim_id="c1", store_id="store-1"
    )
    [problem] = claim_problems(settings, client=client)
    assert "no whitelist plugin" in problem.text


def test_a_whitelist_reading_the_store_passes():
    plugin = {"pluginId": "whitelist", "privateParams": {"dynamicDataId": "store-1"}}
    settings = ClaimSettings(
        delivery=Claim.Delivery.DYNAMIC_STORE, bitbadges_claim_id="c1", store_id="store-1"
    )
    assert claim_problems(settings, client=Client(claim={"plugins": [plugin]})) == []


def test_a_workflow_without_a_claim_id_asks_nothing():
    client = Client()
    assert claim_problems(ClaimSettings(delivery=Claim.Delivery.WORKFLOW), client=client) == []
    assert client.calls == []


@pytest.mark.parametrize("flag", [False, None, "true", 1])
def test_manual_distribution_counts_only_when_bitbadges_says_true(flag):
    client = Client(claim={"plugins": [_password()], "manualDistribution": flag})
    assert claim_problems(_bitbadges_settings(), client=client) == []
