"""claims/wording.py: what members read of a requirement, without paths or symbols."""

import pytest

from claims.models import Requirement
from claims.wording import (
    field_words,
    requirement_fact,
    requirement_link,
    requirement_sentence,
)
from connections.models import App
from tests.claims.words_support import developer_strings

# Words and translations: the database engine changes none of it (CI: one database).
pytestmark = pytest.mark.one_database

GITHUB = App(slug="github", name="GitHub")
USER_URL = "https://api.github.com/user"


def check(path="user.public_repos", comparison="gte", value="5", **fields) -> Requirement:
    fields.setdefault("proxy_url", USER_URL)
    return Requirement(
        app=GITHUB, kind="proxy", path=path, comparison=comparison, value=value, **fields
    )


@pytest.mark.parametrize(
    ("comparison", "value", "sentence"),
    [
        ("gte", "5", "Have at least 5 public repos on GitHub"),
        ("gt", "5", "Have more than 5 public repos on GitHub"),
        ("lte", "5", "Have at most 5 public repos on GitHub"),
        ("lt", "5", "Have fewer than 5 public repos on GitHub"),
        ("eq", "12", "Have 12 as your GitHub public repos"),
        ("ne", "0", "Have your GitHub public repos set to something other than 0"),
        ("contains", "django", "Have django in your GitHub public repos"),
        ("truthy", "", "Have public repos on your GitHub account"),
    ],
)
def test_a_check_without_the_operators_words_reads_as_an_instruction(comparison, value, sentence):
    said = requirement_sentence(check(comparison=comparison, value=value))
    assert said == sentence
    assert developer_strings(said) == []


def test_the_operators_sentence_wins():
    requirement = check(text="Have at least 5 public repositories.")
    assert requirement_sentence(requirement) == "Have at least 5 public repositories"


def test_an_account_requirement_asks_for_a_working_account():
    assert requirement_sentence(Requirement(app=GITHUB)) == "Connect a working GitHub account"


def test_a_starred_repository_check_says_which_repository_to_star():
    requirement = check(
        path="$status",
        comparison="eq",
        value="204",
        proxy_url=f"{USER_URL}/starred/bitbadges/bitbadgesjs",
    )
    assert requirement_sentence(requirement) == "Star bitbadges/bitbadgesjs on GitHub"


@pytest.mark.parametrize(
    ("path", "comparison", "value"),
    [
        ("$status", "eq", "200"),  # a status with no repository to name
        ("0", "truthy", ""),  # nothing but an index
        ("user.public_repos", "gte", "lots"),  # an ordering without a number
        ("user.<script>", "truthy", ""),  # nothing a person would say
    ],
)
def test_a_technical_check_reads_as_the_apps_check(path, comparison, value):
    requirement = check(path=path, comparison=comparison, value=value)
    assert requirement_sentence(requirement) == "Pass the GitHub check for this claim"


def test_a_must_not_check_says_who_the_claim_is_not_for():
    assert (
        requirement_sentence(check(group="none", value="20"))
        == "Not for members who have at least 20 public repos on GitHub"
    )
    worded = check(group="none", text="Be a GitHub staff member")
    assert requirement_sentence(worded) == (
        "Not for members who meet this: be a GitHub staff member"
    )
    assert requirement_sentence(check(group="none"), positive=True) == (
        "Have at least 5 public repos on GitHub"
    )


@pytest.mark.parametrize(
    ("text", "reads"),
    [
        ("Be a GitHub staff member", "be a GitHub staff member"),
        ("GitHub staff", "GitHub staff"),  # a name keeps its capitals
        ("NASA employees", "NASA employees"),  # so does an acronym
        ("A maintainer of django/django", "a maintainer of django/django"),
    ],
)
def test_a_worded_must_not_continues_the_sentence_in_lower_case(text, reads):
    assert requirement_sentence(check(group="none", text=text)) == (
        f"Not for members who meet this: {reads}"
    )


def test_a_comparison_with_true_or_false_reads_as_having_it_or_not():
    assert requirement_sentence(check(path="two_factor", comparison="eq", value="false")) == (
        "Not have two factor on your GitHub account"
    )
    assert requirement_sentence(
        check(path="two_factor", comparison="eq", value="false", group="none")
    ) == ("Not for members who do not have two factor on your GitHub account")


def test_a_hostile_value_is_not_repeated():
    requirement = check(comparison="eq", path="login", value="<b>x</b>.evil_value")
    assert "evil" not in requirement_sentence(requirement)


@pytest.mark.parametrize(
    ("comparison", "seen", "fact"),
    [
        ("gte", "3", "you have 3"),
        ("lt", "12", "you have 12"),
        ("eq", "pro", "yours is pro"),
        ("eq", "12345", "yours is 12345"),  # an ID compared as one is not an amount
        ("ne", "12345", "yours is 12345"),
        ("gt", "7", "you have 7"),
        ("lte", "2", "you have 2"),
        ("gte", "(absent)", ""),
        ("gte", "(not checked)", ""),
        ("gte", "(error)", ""),
        ("truthy", "false", ""),
        ("contains", "django/django", ""),
        ("eq", '{"plan": "pro"}', ""),
        ("eq", "null", ""),
    ],
)
def test_the_fact_says_what_a_person_can_use(comparison, seen, fact):
    requirement = check(comparison=comparison)
    assert requirement_fact(requirement, {"value": seen}) == fact


def test_no_fact_for_a_status_an_account_or_no_evidence():
    status = check(path="$status", comparison="eq", value="204")
    assert requirement_fact(status, {"value": "404"}) == ""
    assert requirement_fact(Requirement(app=GITHUB), {"value": "1 account"}) == ""
    assert requirement_fact(check(), None) == ""
    assert requirement_fact(check(), {"value": 3}) == ""  # not as the engine keeps it


def test_the_link_is_the_operators_https_one_only():
    assert requirement_link(check(link="https://github.com/bitbadges/bitbadgesjs")) == (
        "https://github.com/bitbadges/bitbadgesjs"
    )
    assert requirement_link(check()) == ""
    assert requirement_link(check(link="javascript:alert(1)")) == ""


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("user.public_repos", "public repos"),
        ("items.0.fullName", "full name"),
        ("followers", "followers"),
        ("$status", ""),
        ("items.0", "items"),
        ("0.1", ""),
        ("", ""),
    ],
)
def test_field_words(path, words):
    assert field_words(path) == words
