"""An evaluation's verdict from its rule results, and the workflow answers that say
nothing of the outcome (no database, no network)."""

import pytest

from claims.engine.evaluation import Evaluation
from claims.engine.methods.workflow import says_nothing
from claims.rules import RuleResult


def _rule(name, passed, detail=""):
    return RuleResult(rule=name, label=f"{name} label", passed=passed, detail=detail)


def test_eligible_only_when_every_rule_passes():
    assert Evaluation(results=[_rule("a", True), _rule("b", True)]).eligible is True
    assert Evaluation(results=[_rule("a", True), _rule("b", False)]).eligible is False
    assert Evaluation(results=[_rule("a", False), _rule("b", True)]).eligible is False


def test_no_rules_at_all_is_eligible_with_no_reason():
    evaluation = Evaluation()
    assert evaluation.eligible is True
    assert evaluation.reason == ""
    assert evaluation.evidence() == []


def test_the_reason_is_the_first_failing_rules_detail():
    evaluation = Evaluation(
        results=[
            _rule("a", True, "ignored"),
            _rule("b", False, "Connect GitHub."),
            _rule("c", False, "x"),
        ]
    )
    assert evaluation.reason == "Connect GitHub."


def test_a_failing_rule_without_detail_is_named_by_its_label():
    assert Evaluation(results=[_rule("email", False)]).reason == "email label: not met."


def test_a_passing_evaluation_has_no_reason_even_with_details():
    assert Evaluation(results=[_rule("a", True, "fine")]).reason == ""


def test_the_evidence_is_every_result_as_json_in_order():
    evaluation = Evaluation(results=[_rule("a", True), _rule("b", False, "why")])
    evidence = evaluation.evidence()
    assert [item["rule"] for item in evidence] == ["a", "b"]
    assert evidence[1] == {
        "rule": "b",
        "label": "b label",
        "passed": False,
        "value": "",
        "detail": "why",
        "at": "",
    }


def test_evaluations_do_not_share_their_results():
    first, second = Evaluation(), Evaluation()
    first.results.append(_rule("a", False))
    assert second.results == []
    assert second.eligible is True


@pytest.mark.parametrize(
    "answer",
    [
        "Success! To customize this response, use $.respond()",
        "No $.respond called in workflow",
        {"error": "$.respond() not called for this invocation"},
        {"message": "Internal error waiting for $respond"},
        ["Failed to complete claim. Please try again later."],
        "FAILED TO COMPLETE CLAIM. PLEASE TRY AGAIN LATER.",
    ],
)
def test_answers_that_tell_nothing_of_the_outcome(answer):
    assert says_nothing(answer) is True


@pytest.mark.parametrize(
    "answer",
    [
        None,
        "",
        {},
        [],
        0,
        False,
        {"success": True, "claimAttemptId": "att-1"},
        {"error": "Not eligible: already claimed"},
        "Failed to complete claim: address not on the list",
        "x" * 100_000,
    ],
)
def test_answers_that_say_something_or_nothing_at_all(answer):
    assert says_nothing(answer) is False
