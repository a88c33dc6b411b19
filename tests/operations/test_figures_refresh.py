"""The admin home and the funnel page while figures are counted again: after a counted
change, the next load answers the newest figures computed, says when they were
computed, and queues ONE recompute on the task worker (however many loads ask); once
it ran, the next load shows the new figures and says nothing. Nothing ever computed:
computed on the load. The funnel's CSV, a download of record, is always exact."""

import csv
import io

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from claims.funnel import version as data_version
from tests.claims import funnel_support as seed
from tests.claims.claims_support import run_worker
from tests.operations.home_support import staff

HOME = "/admin/"
FUNNEL = "/admin/claims/claim/funnel/"
FUNNEL_CSV = "/admin/claims/claim/funnel/csv/"
SAID = b"newer ones are being counted: reload in a moment"
TASK = "claims.funnel.version.figures_refresh_task"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def root(client):
    cache.clear()
    client.force_login(staff("root", superuser=True))
    seed.seed_members(seed.seed_claims(), scale=1)
    return client


def _queued() -> int:
    return DBTaskResult.objects.filter(task_path=TASK).count()


def _computed(queries) -> bool:
    """Whether the funnel's figures were computed during `queries`."""
    return any("WITH cohort AS" in query["sql"] for query in queries.captured_queries)


def _confirm_emails() -> int:
    """A counted change: members confirm their email (stage 2 of the funnel)."""
    moved = EmailAddress.objects.filter(user__first_name="signed up, never confirmed").update(
        verified=True
    )
    assert moved
    return moved


def _home_stage2(response) -> int:
    return response.context["home"].funnel[1]["count"]


def _funnel_stage2(response) -> int:
    return response.context["funnel"].stages[1]["count"]


def test_the_first_load_ever_computes_the_figures_and_says_nothing(root):
    with CaptureQueriesContext(connection) as first:
        response = root.get(HOME)
    assert _computed(first)
    assert response.context["home"].as_of is None
    assert SAID not in response.content
    assert _queued() == 0


def test_after_a_change_the_home_says_its_figures_are_older_and_queues_one_count(root):
    before = _home_stage2(root.get(HOME))
    moved = _confirm_emails()

    with CaptureQueriesContext(connection) as stale_load:
        stale = root.get(HOME)
    assert not _computed(stale_load)  # answered at once
    assert _home_stage2(stale) == before  # the old figures...
    assert stale.context["home"].as_of is not None
    assert SAID in stale.content  # ...said to be so
    assert _queued() == 1
    again = root.get(HOME)
    assert SAID in again.content
    assert _queued() == 1  # a second load queues none
    page = root.get(FUNNEL)  # the page shares the funnel's figures: counted already
    assert SAID in page.content and _funnel_stage2(page) == before
    assert _queued() == 1

    run_worker()
    current = root.get(HOME)
    assert _home_stage2(current) == before + moved
    assert current.context["home"].as_of is None
    assert SAID not in current.content
    page = root.get(FUNNEL)
    assert _funnel_stage2(page) == before + moved and SAID not in page.content
    assert DBTaskResult.objects.filter(task_path=TASK, status="SUCCESSFUL").count() == 1


def test_the_funnel_page_alone_queues_one_count_and_then_shows_the_new_figures(root):
    before = _funnel_stage2(root.get(FUNNEL))
    moved = _confirm_emails()
    stale = root.get(FUNNEL)
    assert _funnel_stage2(stale) == before
    assert stale.context["funnel"].as_of is not None and SAID in stale.content
    root.get(FUNNEL)
    assert _queued() == 1
    run_worker()
    current = root.get(FUNNEL)
    assert _funnel_stage2(current) == before + moved
    assert current.context["funnel"].as_of is None and SAID not in current.content


def test_the_csv_is_exact_after_a_change(root):
    root.get(FUNNEL)  # figures kept, then a change: the page would be stale
    moved = _confirm_emails()
    before = _funnel_stage2(root.get(FUNNEL))
    response = root.get(FUNNEL_CSV)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, overall = list(csv.reader(io.StringIO(text)))[:2]
    assert overall[0] == "overall"
    assert int(overall[header.index("Email confirmed or address proven")]) == before + moved
    assert _queued() == 1  # the page's, not the CSV's
    run_worker()
    assert _funnel_stage2(root.get(FUNNEL)) == before + moved


def test_the_task_counts_under_the_version_then_current(root):
    """What the worker keeps is the newest and the current: a load under that version
    answers it and says nothing, and queues nothing."""
    root.get(HOME)
    _confirm_emails()
    data_version.figures_refresh_task.call([["funnel", "claims.funnel.figures_compute", ["", ""]]])
    page = root.get(FUNNEL)
    assert page.context["funnel"].as_of is None
    assert _queued() == 0


@pytest.mark.parametrize(
    "path",
    [
        "os.system",
        # Inside the figures' modules, but not figures: turning the triggers off, a
        # module, a name that is not there.
        "claims.funnel.version.uninstall",
        "operations.home.data_version",
        "claims.funnel.nothing_here",
    ],
)
def test_a_recompute_names_only_the_figures_functions(path):
    on = data_version.current()
    with pytest.raises(ValueError, match="not a figures function"):
        data_version.figures_refresh_task.call([["x", path, []]])
    assert data_version.current() == on  # nothing ran: the triggers are on
