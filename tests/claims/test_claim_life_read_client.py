"""The BitBadges client reads a claim's life (uses, windows, halt) as BitBadges shapes it
(docs/fidelity.md, "A claim's life"), answered by `responses`."""

import datetime

import pytest
import responses

from claims.bitbadges.life import NEVER
from tests.claims.bitbadges_support import CLAIM, CLAIM_URL, FakeClock, make_client

MS = 1_800_000_000_000  # 2027-01-15, in UNIX milliseconds
DAY = 86_400_000


def plugin(plugin_id, instance_id=None, public=None, state=None):
    return {
        "instanceId": instance_id or plugin_id,
        "pluginId": plugin_id,
        "version": "0",
        "publicParams": public or {},
        "privateParams": {},
        "publicState": state or {},
    }


def read(*plugins, **claim_fields):
    body = {
        "claim": {
            "_includesPrivateParams": False,
            "claimId": CLAIM,
            "version": "3",
            "plugins": list(plugins),
            **claim_fields,
        }
    }
    with responses.RequestsMock() as mocked:
        mocked.get(CLAIM_URL, json=body)
        return make_client(FakeClock()).claim_life(CLAIM)


def test_uses_window_and_halt_as_the_sdk_types_them():
    life = read(
        plugin("numUses", public={"maxUses": 10}, state={"numUses": 3, "usedClaimNumbers": []}),
        plugin("transferTimes", public={"transferTimes": [{"start": str(MS), "end": MS + DAY}]}),
        plugin("halt"),
    )
    assert (life.max_uses, life.used, life.remaining, life.used_up) == (10, 3, 7, False)
    assert life.windows == ((MS, MS + DAY),)
    assert life.window_start == datetime.datetime.fromtimestamp(MS / 1000, tz=datetime.UTC)
    assert life.halted is True


def test_numbers_sent_as_strings_and_a_used_up_claim():
    life = read(plugin("numUses", public={"maxUses": "5"}, state={"numUses": "5"}))
    assert (life.remaining, life.used_up, life.halted, life.windows) == (0, True, False, ())


def test_a_hidden_state_is_unknown_not_zero():
    life = read(plugin("numUses", public={"maxUses": 5, "hideCurrentState": True}, state={}))
    assert (life.max_uses, life.used, life.remaining, life.used_up) == (5, None, None, False)


def test_max_uses_zero_is_never_taken_as_used_up():
    # IDX-2024 skips the cap when maxUses is 0; the docs say >= maxUses fails: unsettled.
    life = read(plugin("numUses", public={"maxUses": 0}, state={"numUses": 0}))
    assert (life.max_uses, life.remaining, life.used_up) == (0, None, False)


def test_no_start_and_no_end_read_as_none():
    life = read(
        plugin("numUses", public={"maxUses": 1}),
        plugin("transferTimes", public={"transferTimes": [{"start": "1", "end": str(2**64 - 1)}]}),
    )
    assert (life.window_start, life.window_end) == (None, None)


def test_several_window_plugins_must_all_pass_so_their_overlap_counts():
    life = read(
        plugin("numUses", public={"maxUses": 1}),
        plugin("transferTimes", "a", {"transferTimes": [{"start": MS, "end": MS + 3 * DAY}]}),
        plugin("transferTimes", "b", {"transferTimes": [{"start": MS + DAY, "end": MS + 9 * DAY}]}),
    )
    assert life.windows == ((MS + DAY, MS + 3 * DAY),)


def test_windows_that_never_overlap_are_never_open():
    life = read(
        plugin("numUses", public={"maxUses": 1}),
        plugin("transferTimes", "a", {"transferTimes": [{"start": MS, "end": MS + DAY}]}),
        plugin(
            "transferTimes", "b", {"transferTimes": [{"start": MS + 5 * DAY, "end": MS + 9 * DAY}]}
        ),
    )
    assert life.windows == NEVER


@pytest.mark.parametrize(
    ("method", "halted"),
    [
        ({"type": "AND", "conditions": ["numUses", "stop", "pwd"]}, True),
        ({"type": "OR", "conditions": ["stop", "pwd"]}, False),  # the password alone is enough
        ({"type": "OR", "conditions": ["stop", "pwd"], "options": {"minNumSatisfied": 2}}, True),
        ({"type": "AND", "conditions": ["numUses", {"type": "OR", "conditions": ["stop"]}]}, True),
        ({"type": "NOT", "conditions": ["stop"]}, False),  # no source settles NOT
    ],
    ids=["and", "or", "two-of-two", "nested", "not"],
)
def test_custom_success_logic_decides_whether_a_halt_stops_the_claim(method, halted):
    life = read(
        plugin("numUses", public={"maxUses": 1}),
        plugin("halt", "stop"),
        plugin("password", "pwd"),
        satisfyMethod=method,
    )
    assert life.halted is halted
