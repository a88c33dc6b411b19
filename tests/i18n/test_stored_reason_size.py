"""A huge stored reason is shown as it is, quickly, and never breaks a page (review of
issue 21, note 7): claims/wording.py matches only reasons up to MAX_MATCHED characters
against its messages, and translates reasons inside reasons two levels deep at most."""

import time

import pytest

from claims import wording
from claims.models import Completion
from connections.models import App

State = Completion.State
# What made the patterns slow (lazy groups) and deep (a reason inside a reason).
QUADRATIC = "This x account (" * 4000 + ") has already earned this claim for another member."
NESTED = "We gave up after 5 tries: " * 2500 + "BitBadges is not answering."


@pytest.mark.django_db
@pytest.mark.parametrize("reason", [QUADRATIC, NESTED], ids=["quadratic", "nested"])
def test_a_huge_stored_reason_is_shown_as_it_is_quickly(client, make_claim, member, reason):
    github = App.objects.create(slug="github", name="GitHub", enabled=True)
    claim = make_claim("huge", apps=[github])
    Completion.objects.create(claim=claim, member=member, state=State.FAILED, reason=reason)
    client.force_login(member)
    for path in ("/claims/", "/c/huge/"):
        started = time.monotonic()
        response = client.get(path)
        took = time.monotonic() - started
        assert response.status_code == 200, path
        assert took < 2, f"{path} took {took:.1f} s"
        assert reason[-200:].replace("'", "&#x27;") in response.text, path
    started = time.monotonic()
    assert wording.reason_words(reason) == reason
    assert time.monotonic() - started < 0.1


def test_a_reason_just_under_the_limit_is_still_translated_in_its_frame():
    said = "x" * (wording.MAX_MATCHED - 100)
    reason = wording.WORKFLOW_REFUSED % {"said": said}
    assert len(reason) <= wording.MAX_MATCHED
    assert wording.reason_words(reason) == reason  # English: matched, rebuilt the same
