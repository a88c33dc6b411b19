"""The enabled apps by slug, kept per process under a shared cache version
(connections.models.enabled_app): no query once read, a change seen at once."""

import pytest
from django.core.cache import cache, caches
from django.db import connection, transaction
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from connections import models
from connections.forms import ConnectForm
from connections.models import App, enabled_app

# The answers are kept only on a cache every process shares (core/shared_version.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shared_cache")]


@pytest.fixture
def github():
    with TestCase.captureOnCommitCallbacks(execute=True):  # as committed
        return App.objects.create(slug="github", name="GitHub", enabled=True)


def test_read_once_then_no_query(github):
    assert enabled_app("github").pk == github.pk
    with CaptureQueriesContext(connection) as ctx:
        assert enabled_app("github").pk == github.pk
        assert enabled_app("nope") is None
    assert ctx.captured_queries == []


def test_the_form_refuses_an_app_disabled_a_moment_ago(member, github):
    assert ConnectForm({"app": "github"}, member=member).is_valid()
    github.enabled = False
    github.save()
    form = ConnectForm({"app": "github"}, member=member)
    assert not form.is_valid()
    assert form.has_error("app", "app_unknown")


def test_enabled_renamed_and_deleted_are_seen_at_once(github):
    assert enabled_app("gitlab") is None
    gitlab = App.objects.create(slug="gitlab", name="GitLab", enabled=False)
    assert enabled_app("gitlab") is None
    gitlab.enabled = True
    gitlab.save()
    assert enabled_app("gitlab").pk == gitlab.pk
    gitlab.slug = "gitlab-ee"
    gitlab.save()
    assert enabled_app("gitlab") is None
    assert enabled_app("gitlab-ee").pk == gitlab.pk
    gitlab.delete()
    assert enabled_app("gitlab-ee") is None


def test_another_process_change_is_seen_through_the_shared_version(github):
    assert enabled_app("github") is not None
    App.objects.filter(pk=github.pk).update(enabled=False)  # no signal here
    assert enabled_app("github") is not None  # this process's answer, under its version
    cache.set(models.CATALOGUE_VERSION_KEY, "another-process")  # ... that process's commit
    assert enabled_app("github") is None


def test_the_copy_is_the_callers(github):
    enabled_app("github").name = "Changed"
    assert enabled_app("github").name == "GitHub"
    # Its JSON too (a deep copy): a caller filling in the connect options keeps them.
    before = dict(enabled_app("github").connect)
    enabled_app("github").connect["changed-by-a-caller"] = True
    assert enabled_app("github").connect == before


def test_the_version_is_replaced_again_when_the_change_commits(
    github, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        github.save()
        at_once = cache.get(models.CATALOGUE_VERSION_KEY)
        assert at_once is not None
    assert cache.get(models.CATALOGUE_VERSION_KEY) not in (None, at_once)


def test_no_cache_answer_means_the_table_answers(github, monkeypatch):
    assert enabled_app("github") is not None
    App.objects.filter(pk=github.pk).update(enabled=False)
    monkeypatch.setattr(caches["default"], "get", lambda *a, **k: None)
    monkeypatch.setattr(caches["default"], "add", lambda *a, **k: False)
    assert enabled_app("github") is None


def test_a_change_rolled_back_is_not_kept(github):
    try:
        with transaction.atomic():
            github.enabled = False
            github.save()
            assert enabled_app("github") is None
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert enabled_app("github").pk == github.pk  # enabled again, with no new version
