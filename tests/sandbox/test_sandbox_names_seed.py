"""`manage.py seed_demo` gives the demo claims' checks the sentences members read, and the
page that meets them; run again, it brings an old demo row back to those words."""

import io

import pytest
from django.core.management import call_command

from claims.models import Requirement

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def demo_file(settings, tmp_path):
    settings.SANDBOX_DEMO_FILE = tmp_path / "sandbox-demo.json"
    call_command(
        "sandbox_setup",
        env_file=str(tmp_path / ".env"),
        demo_file=str(settings.SANDBOX_DEMO_FILE),
        stdout=io.StringIO(),
    )


def _checks() -> dict[str, Requirement]:
    return {
        r.claim.slug: r
        for r in Requirement.objects.select_related("claim").exclude(kind=Requirement.Kind.ACCOUNT)
    }


def _has_link() -> bool:
    return any(f.name == "link" for f in Requirement._meta.concrete_fields)


def test_the_demo_checks_read_as_sentences_with_their_link():
    call_command("seed_demo", stdout=io.StringIO())
    checks = _checks()

    assert checks["github-builders"].text == "Have at least 5 public repositories"
    assert checks["stargazer"].text == "Star bitbadges/bitbadgesjs"
    # Repositories grow: the builders' list asks again by itself.
    assert checks["github-builders"].claim.recheck_interval is not None
    if _has_link():
        assert checks["stargazer"].link == "https://github.com/bitbadges/bitbadgesjs"
        assert checks["github-builders"].link == "https://github.com/new"


def test_a_second_run_brings_old_words_back_and_duplicates_nothing():
    call_command("seed_demo", stdout=io.StringIO())
    star = _checks()["stargazer"]
    Requirement.objects.filter(pk=star.pk).update(text="You starred bitbadges/bitbadgesjs")
    count = Requirement.objects.count()

    call_command("seed_demo", stdout=io.StringIO())

    assert Requirement.objects.count() == count
    assert _checks()["stargazer"].pk == star.pk
    assert _checks()["stargazer"].text == "Star bitbadges/bitbadgesjs"
