"""The task that reads claims' lives and badges at once (seed_demo queues it, so that
`make run` shows each badge's picture without waiting for a scheduler), and tries again
while BitBadges does not answer yet."""

import pytest
from django_tasks_db.models import DBTaskResult

from claims.models import Claim
from claims.tasks import LIFE_READ_RETRIES, claims_life_read_task

pytestmark = pytest.mark.django_db(transaction=True)

TASK = "claims.tasks.claims_life_read_task"


def queued() -> list[list]:
    return [row.args_kwargs["args"] for row in DBTaskResult.objects.filter(task_path=TASK)]


def test_it_keeps_each_claims_badge_as_the_sandbox_gives_it(demo_claims):
    ids = [claim.pk for claim in demo_claims.values()]
    assert not Claim.objects.exclude(bitbadges_name="").exists()  # nothing read yet
    result = claims_life_read_task.call(ids)
    assert result == {"read": len(ids), "unread": []}
    starter = Claim.objects.get(slug="github-starter")
    assert starter.bitbadges_name and starter.life_read_at is not None
    assert starter.badge_image_etag  # the sandbox's picture, fetched and kept
    assert queued() == []  # nothing left to try again


def test_unread_claims_are_tried_again_a_few_times_then_left(demo_claims, settings):
    settings.BITBADGES_API_URL = "http://127.0.0.1:9/bitbadges"  # nothing answers there
    starter = demo_claims["github-starter"]
    result = claims_life_read_task.call([starter.pk])
    assert result == {"read": 0, "unread": [starter.pk]}
    assert queued() == [[[starter.pk], LIFE_READ_RETRIES - 1]]
    starter.refresh_from_db()
    assert starter.life_read_error  # the admin reads why
    DBTaskResult.objects.all().delete()
    claims_life_read_task.call([starter.pk], 0)  # the last try queues nothing
    assert queued() == []
