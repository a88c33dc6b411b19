"""`manage.py seed_demo`: the demo members and apps, and safe to run twice."""

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from connections.models import App

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seeds_members_admin_and_apps(django_user_model):
    output = seed()
    assert "Demo ready" in output
    for username in ("alice", "bob", "admin"):
        assert authenticate(username=username, password="connect-demo") is not None
    admin = django_user_model.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert not django_user_model.objects.get(username="alice").is_staff
    apps = list(App.objects.enabled().values_list("slug", flat=True))
    assert apps == ["github", "slack", "google_sheets", "discord", "gitlab", "notion"]
    github = App.objects.get(slug="github")
    assert github.name == "GitHub"
    assert github.image_url.startswith("http")


def test_running_twice_changes_nothing_and_keeps_a_changed_password(django_user_model):
    seed()
    alice = django_user_model.objects.get(username="alice")
    alice.set_password("alice-chose-this-one")
    alice.save()
    ids = sorted(django_user_model.objects.values_list("pk", "external_id"))
    seed()
    assert sorted(django_user_model.objects.values_list("pk", "external_id")) == ids
    assert django_user_model.objects.count() == 3
    assert App.objects.count() == 6
    assert authenticate(username="alice", password="alice-chose-this-one") is not None


def test_admin_choices_on_apps_are_refreshed_to_the_demo_state():
    seed()
    App.objects.filter(slug="slack").update(enabled=False, name="Renamed")
    seed()
    slack = App.objects.get(slug="slack")
    assert slack.enabled is True
    assert slack.name == "Slack"


def test_seeds_one_demo_claim_per_delivery_method_backed_by_the_bitbadges_sandbox():
    from claims.models import Claim
    from sandbox.models import BitBadgesClaim

    output = seed()
    claims = {claim.slug: claim for claim in Claim.objects.enabled()}
    assert {claim.delivery for claim in claims.values()} == {
        "bitbadges",
        "dynamic_store",
        "workflow",
    }
    stargazer = claims["stargazer"]  # the event-driven one
    assert stargazer.trigger == "github-new-star" and stargazer.criterion_proxy_url
    for slug, claim in claims.items():
        assert f"claim {slug}" in output
        claim.full_clean()
        assert BitBadgesClaim.objects.filter(claim_id=claim.bitbadges_claim_id).exists()
    starter = claims["github-starter"]
    assert list(starter.required_apps.values_list("slug", flat=True)) == ["github"]
    assert not starter.has_criterion  # a newcomer only has to connect GitHub
    assert starter.password() and starter.password() not in starter.password_encrypted
    assert claims["github-builders"].store_secret()


def test_demo_claims_are_not_duplicated_and_come_back_to_the_demo_state():
    from claims.models import Claim

    seed()
    Claim.objects.filter(slug="github-starter").update(enabled=False, name="Renamed")
    seed()
    assert Claim.objects.count() == 4
    starter = Claim.objects.get(slug="github-starter")
    assert starter.enabled and starter.name == "GitHub starter badge"


def test_without_the_sandbox_demo_claims_are_skipped(settings, monkeypatch):
    from claims.models import Claim
    from users.management.commands import seed_demo

    settings.SANDBOX = False
    monkeypatch.setattr(
        seed_demo.Command, "_app_data", lambda self: [{"name_slug": "github", "name": "GitHub"}]
    )
    output = seed()
    assert "Demo claims skipped" in output
    assert not Claim.objects.exists()


def test_demo_members_have_a_verified_primary_email(django_user_model):
    from allauth.account.models import EmailAddress

    seed()
    seed()  # twice: still one row each
    for username in ("alice", "bob", "admin"):
        user = django_user_model.objects.get(username=username)
        rows = list(EmailAddress.objects.filter(user=user))
        assert [(r.email, r.verified, r.primary) for r in rows] == [
            (f"{username}@example.com", True, True)
        ]
