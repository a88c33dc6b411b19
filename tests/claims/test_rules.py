"""Rule evaluation (claims/rules.py): pure functions, so plain values in, plain values out."""

import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claims.rules import (
    MISSING,
    VALUE_SEEN_MAX,
    AccountFact,
    app_rules,
    compare,
    criterion_label,
    criterion_rule,
    extract,
    identity_of,
)

NOW = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.UTC)

RESULT = {
    "login": "octocat",
    "public_repos": 12,
    "plan": {"name": "pro", "seats": None},
    "items": [{"name": "first"}, {"name": "middle"}, {"name": "last"}],
    "0": "key that looks like an index",
}


# --- extract -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("login", "octocat"),
        ("plan.name", "pro"),
        ("items.0.name", "first"),
        ("items.2.name", "last"),
        ("items.-1.name", "last"),
        ("items.-3.name", "first"),
        ("0", "key that looks like an index"),  # a dict key, not a list index
        ("plan..name", "pro"),  # empty segments are skipped
    ],
)
def test_extract_follows_dotted_paths_and_list_indices(path, expected):
    assert extract(RESULT, path) == expected


def test_extract_returns_a_present_null_as_none_not_missing():
    assert extract(RESULT, "plan.seats") is None


def test_extract_with_an_empty_path_is_the_whole_result():
    assert extract(RESULT, "") is RESULT


@pytest.mark.parametrize(
    "path",
    [
        "nope",
        "plan.nope",
        "items.3.name",  # past the end
        "items.-4.name",  # before the start
        "items.first",  # a list needs a number
        "items.1.5",  # indexing into a dict with a number it does not have
        "login.length",  # a string has no fields
        "public_repos.0",  # nor does a number
        "plan.seats.x",  # nor does null
    ],
)
def test_extract_answers_missing_for_paths_that_are_not_there(path):
    assert extract(RESULT, path) is MISSING


def test_extract_of_a_scalar_result():
    assert extract(7, "") == 7
    assert extract(7, "a") is MISSING
    assert extract(None, "a") is MISSING


# --- compare -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "comparison", "expected", "result"),
    [
        # Numbers compare as numbers, whichever side is text.
        (10, "eq", "10", True),
        ("10", "eq", "10.0", True),
        (10.0, "eq", " 10 ", True),
        (10, "eq", "11", False),
        (10, "ne", "11", True),
        (10, "ne", "10.00", False),
        (12, "gt", "11", True),
        (12, "gt", "12", False),
        ("12", "gte", "12", True),
        (12, "gte", "12.5", False),
        (-1, "lt", "0", True),
        (0, "lt", "0", False),
        (0, "lte", "0", True),
        ("0.5", "lte", "0.25", False),
        ("9", "gt", "10", False),  # numbers, not text order
        # Text compares case- and space-insensitively.
        ("OctoCat", "eq", "octocat", True),
        (" pro ", "eq", "PRO", True),
        ("pro", "ne", "free", True),
        ("pro", "ne", "Pro", False),
        # Ordering needs two numbers; anything else is simply not met.
        ("abc", "gt", "1", False),
        ("abc", "lt", "1", False),
        (5, "gt", "five", False),
        (None, "gte", "0", False),
        ([1, 2], "gt", "0", False),
        # An unknown comparison is never met.
        (5, "between", "1", False),
    ],
)
def test_compare(value, comparison, expected, result):
    assert compare(value, comparison, expected) is result


@pytest.mark.parametrize(
    ("value", "comparison", "expected", "result"),
    [
        (True, "eq", "true", True),
        (True, "eq", " TRUE ", True),
        (False, "eq", "false", True),
        (True, "eq", "false", False),
        (True, "ne", "false", True),
        # A boolean is not a number: true is not 1, and it has no order.
        (True, "eq", "1", False),
        (False, "eq", "0", False),
        (True, "gte", "1", False),
        (False, "lt", "1", False),
        # Nor is text that says true a boolean for eq.
        ("true", "eq", "true", True),
        (1, "eq", "true", False),
    ],
)
def test_compare_booleans(value, comparison, expected, result):
    assert compare(value, comparison, expected) is result


@pytest.mark.parametrize(
    "value",
    [True, 1, -1, 0.5, "yes", "x", " true ", [0], {"a": 1}, "null"],
)
def test_truthy_holds_for_present_non_empty_values(value):
    assert compare(value, "truthy", "") is True


@pytest.mark.parametrize(
    "value",
    [MISSING, None, False, 0, 0.0, "", "   ", "false", "FALSE", " False ", "0", "no", "No", [], {}],
)
def test_truthy_fails_for_absent_empty_or_false_values(value):
    assert compare(value, "truthy", "") is False


def test_truthy_ignores_the_expected_text():
    assert compare("yes", "truthy", "no") is True
    assert compare("", "truthy", "yes") is False


@pytest.mark.parametrize(
    ("value", "expected", "result"),
    [
        # A list contains an item equal to the text (same equality as eq).
        (["admin", "Maintainer"], "maintainer", True),
        (["admin"], "adm", False),  # whole items, not substrings
        ([1, 2, 3], "2", True),
        ([1, 2, 3], "2.0", True),
        ([1, 2, 3], "4", False),
        ([True], "true", True),
        ([], "x", False),
        (("a", "b"), "B", True),
        # Text contains a substring, case-insensitively.
        ("Hello World", "world", True),
        ("Hello World", "mars", False),
        (12345, "234", True),
        # A dict contains a key (exactly).
        ({"admin": False}, "admin", True),
        ({"admin": True}, "Admin", False),
        ({"role": "admin"}, "admin", False),  # values are not keys
    ],
)
def test_contains(value, expected, result):
    assert compare(value, "contains", expected) is result


@pytest.mark.parametrize("comparison", ["eq", "ne", "gt", "gte", "lt", "lte", "contains"])
def test_an_absent_value_meets_no_comparison_but_truthy_says_false(comparison):
    # Not even "ne": a value that is not there does not differ from anything.
    assert compare(MISSING, comparison, "x") is False
    assert compare(MISSING, "truthy", "") is False


def test_null_equals_the_text_null_the_way_it_is_shown():
    # The evidence shows a null as "null"; "= null" must then hold for it.
    assert compare(None, "eq", "null") is True
    assert compare(None, "ne", "null") is False
    assert compare(None, "eq", "octocat") is False
    assert compare(None, "ne", "octocat") is True


@pytest.mark.parametrize("expected", ["n", "no", "none", "null", ""])
def test_null_contains_nothing(expected):
    # A null value holds no text: it must not "contain" pieces of the word None.
    assert compare(None, "contains", expected) is False


@pytest.mark.parametrize(
    ("value", "comparison", "expected"),
    [
        (float("nan"), "gt", "0"),
        (float("nan"), "lte", "0"),
        (float("inf"), "gt", "1"),
        (float("-inf"), "lt", "1"),
        ("NaN", "gte", "0"),
        ("Infinity", "gt", "0"),
        ("-Infinity", "lt", "0"),
        (5, "lt", "Infinity"),
        (5, "gt", "-inf"),
        (5, "lt", "NaN"),
        (5, "gte", "sNaN"),
    ],
)
def test_nan_and_infinity_never_meet_an_ordering(value, comparison, expected):
    assert compare(value, comparison, expected) is False


def test_nan_and_infinity_compare_as_text_for_equality():
    assert compare(float("nan"), "eq", "nan") is True
    assert compare("Infinity", "eq", "infinity") is True
    assert compare(float("inf"), "eq", "1e999") is False


def test_huge_values_compare_without_error():
    huge = "9" * 100_000
    assert compare(huge, "gt", "1") is True
    assert compare(1, "lt", huge) is True
    assert compare(huge, "eq", huge) is True
    assert compare("1e999999", "gt", "1e999998") is True
    assert compare("x" * 100_000, "contains", "y") is False
    assert compare("x" * 100_000, "gte", "1") is False


@given(
    value=st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        st.decimals(allow_nan=False, allow_infinity=False, places=6),
    ),
    threshold=st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    as_text=st.booleans(),
)
def test_orderings_are_complementary_for_numbers(value, threshold, as_text):
    value = str(value) if as_text else value
    expected = str(threshold)
    assert compare(value, "gte", expected) is not compare(value, "lt", expected)
    assert compare(value, "gt", expected) is not compare(value, "lte", expected)
    equal = compare(value, "eq", expected)
    assert equal is not compare(value, "ne", expected)
    assert equal is (compare(value, "gte", expected) and compare(value, "lte", expected))
    assert Decimal(str(value)).compare(Decimal(expected)) == (
        1 if compare(value, "gt", expected) else -1 if compare(value, "lt", expected) else 0
    )


@given(value=st.text(max_size=50), expected=st.text(max_size=50))
def test_orderings_on_text_never_raise_and_never_both_hold(value, expected):
    gte, lt = compare(value, "gte", expected), compare(value, "lt", expected)
    assert not (gte and lt)
    for comparison in ("eq", "ne", "contains", "truthy"):
        assert isinstance(compare(value, comparison, expected), bool)


# --- app_rules -----------------------------------------------------------------------------


def fact(slug="github", name="GitHub", *, healthy=True, dead=False, error=""):
    return AccountFact(app_slug=slug, app_name=name, healthy=healthy, dead=dead, error=error)


def test_a_missing_app_fails_with_what_to_do_and_no_health_rule():
    results = app_rules([("github", "GitHub")], [fact("slack", "Slack")], now=NOW)
    assert [r.rule for r in results] == ["app:github"]
    (missing,) = results
    assert missing.passed is False
    assert missing.label == "GitHub connected"
    assert missing.value == "0 accounts"
    assert missing.detail == "Connect your GitHub account."
    assert missing.at == NOW.isoformat()


def test_a_healthy_account_passes_both_rules():
    connected, healthy = app_rules([("github", "GitHub")], [fact()], now=NOW)
    assert (connected.rule, connected.passed, connected.value, connected.detail) == (
        "app:github",
        True,
        "1 account",
        "",
    )
    assert (healthy.rule, healthy.label, healthy.passed, healthy.value, healthy.detail) == (
        "healthy:github",
        "GitHub account healthy",
        True,
        "healthy",
        "",
    )


def test_an_unhealthy_account_asks_for_a_reconnect_with_the_error_text():
    _, health = app_rules(
        [("github", "GitHub")], [fact(healthy=False, error="token revoked")], now=NOW
    )
    assert health.passed is False
    assert health.value == "unhealthy"
    assert health.detail == "Your GitHub account needs reconnecting."  # the error stays with staff


def test_a_dead_account_says_dead_and_without_error_text_no_parentheses():
    _, health = app_rules([("github", "GitHub")], [fact(healthy=False, dead=True)], now=NOW)
    assert health.passed is False
    assert health.value == "dead"
    assert health.detail == "Your GitHub account needs reconnecting."


def test_dead_counts_even_when_the_healthy_flag_is_still_set():
    _, health = app_rules([("github", "GitHub")], [fact(healthy=True, dead=True)], now=NOW)
    assert (health.passed, health.value) == (False, "dead")


def test_the_worst_of_several_unhealthy_accounts_is_reported():
    accounts = [
        fact(healthy=False, error="rate limited"),
        fact(healthy=False, dead=True, error="refresh token expired"),
    ]
    connected, health = app_rules([("github", "GitHub")], accounts, now=NOW)
    assert connected.value == "2 accounts"
    assert health.value == "dead"
    assert health.detail == "Your GitHub account needs reconnecting."


def test_one_healthy_account_among_broken_ones_is_enough():
    accounts = [fact(healthy=False, dead=True), fact()]
    _, health = app_rules([("github", "GitHub")], accounts, now=NOW)
    assert health.passed is True


def test_each_required_app_is_checked_in_order():
    results = app_rules(
        [("github", "GitHub"), ("discord", "Discord")],
        [fact(), fact("discord", "Discord", healthy=False)],
        now=NOW,
    )
    assert [(r.rule, r.passed) for r in results] == [
        ("app:github", True),
        ("healthy:github", True),
        ("app:discord", True),
        ("healthy:discord", False),
    ]


def test_no_required_apps_means_no_rules():
    assert app_rules([], [fact()], now=NOW) == []


# --- criterion_rule ------------------------------------------------------------------------


def rule(result, path="public_repos", comparison="gte", expected="10"):
    return criterion_rule(result, path=path, comparison=comparison, expected=expected, now=NOW)


def test_a_met_criterion_keeps_the_value_and_no_detail():
    result = rule(RESULT)
    assert (result.rule, result.label, result.passed, result.value, result.detail) == (
        "criterion",
        "Have at least 10 public repos",
        True,
        "12",
        "",
    )
    assert result.at == NOW.isoformat()
    assert result.as_json()["value"] == "12"


def test_an_unmet_criterion_says_what_it_needs_and_what_was_seen():
    result = rule(RESULT, expected="25")
    assert result.passed is False
    assert result.detail == "Have at least 25 public repos: you have 12."


def test_a_missing_path_says_the_result_has_no_such_field():
    result = rule(RESULT, path="followers")
    assert (result.passed, result.value, result.detail) == (
        False,
        "(absent)",
        "Not yet: Have at least 10 followers.",
    )


def test_truthy_label_has_no_expected_value():
    result = rule({"verified": False}, path="verified", comparison="truthy", expected="")
    assert result.label == "Have verified on your account"
    assert result.value == "false"
    assert result.detail == "Not yet: Have verified on your account."


def test_null_and_long_values_are_shown_readably():
    assert rule({"x": None}, path="x", comparison="eq", expected="1").value == "null"
    long = rule({"x": "a" * 10_000}, path="x", comparison="eq", expected="b")
    assert len(long.value) == VALUE_SEEN_MAX
    assert long.value.endswith("…")
    assert len(long.detail) < 500


def test_a_nul_in_a_value_seen_never_reaches_the_evidence():
    # A member's self-hosted server writes what it likes; PostgreSQL stores no NUL.
    result = rule({"x": "a\x00b"}, path="x", comparison="eq", expected="c")
    assert "\x00" not in result.value and "\x00" not in result.detail
    assert result.value == "a\ufffdb"
    assert identity_of({"login": "octo\x00cat"}, "login") == "octocat"


@pytest.mark.parametrize(
    ("comparison", "word"),
    [("eq", "="), ("ne", "≠"), ("gt", ">"), ("lt", "<"), ("lte", "≤"), ("contains", "contains")],
)
def test_criterion_label_words(comparison, word):
    assert criterion_label("plan.name", comparison, "pro") == f"plan.name {word} pro"


# --- identity_of ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "path", "identity"),
    [
        ({"login": "OctoCat"}, "login", "octocat"),
        ({"login": "  Octo Cat \n"}, "login", "octo cat"),
        ({"id": 583231}, "id", "583231"),
        ({"user": {"name": "Mona"}}, "user.name", "mona"),
        ({"logins": ["A", "B"]}, "logins.-1", "b"),
    ],
)
def test_identity_is_normalised_text(result, path, identity):
    assert identity_of(result, path) == identity


@pytest.mark.parametrize(
    "result",
    [{}, {"login": None}, {"login": ""}, {"login": "   "}, {"login": {"a": 1}}, {"login": [1]}],
)
def test_no_identity_for_missing_empty_or_structured_values(result):
    assert identity_of(result, "login") is None


def test_identity_is_cut_to_200_characters():
    identity = identity_of({"login": "x" * 10_000}, "login")
    assert identity == "x" * 200


def test_an_admins_wording_replaces_the_path_for_members():
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    failed = criterion_rule(
        {"$status": 404},
        path="$status",
        comparison="eq",
        expected="204",
        now=now,
        text="You starred octo/repo",
    )
    assert (failed.label, failed.detail, failed.value) == (
        "You starred octo/repo",
        "Not yet: You starred octo/repo.",
        "404",
    )
    passed = criterion_rule(
        {"$status": 204},
        path="$status",
        comparison="eq",
        expected="204",
        now=now,
        text="You starred octo/repo",
    )
    assert passed.passed and passed.detail == ""
