"""The funnel counts a BitBadges sign-up as a path: stage 2 is "Email confirmed or address
proven", and beside each stage the page and its CSV say how many of its members signed
up with BitBadges; still a fixed number of queries whatever the number of members or
claims."""

import datetime

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from claims import funnel
from claims.models import Claim
from connections.models import App, ConnectedAccount
from tests.core.exports_support import read_csv
from tests.journey.journey_support import address_for, proven_member
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db

URL = "/admin/claims/claim/funnel/"
CSV_URL = "/admin/claims/claim/funnel/csv/"
User = get_user_model()


@pytest.fixture
def github(db):
    return App.objects.create(slug="github", name="GitHub", enabled=True)


@pytest.fixture
def starter(make_claim, github):
    return make_claim("github-starter", apps=[github])


def connected(member, app, tag):
    ConnectedAccount.objects.create(member=member, app=app, pipedream_id=f"apn_{tag}")
    return member


def seed(github, tag: str, *, scale: int = 1) -> dict[str, list]:
    """Per path, `scale` members: BitBadges sign-ups (proven, no email; one with GitHub
    connected; one whose proof was cleared since; one who set a password and disconnected
    BitBadges since), password sign-ups (confirmed; one that connected BitBadges a day
    after joining, one within the minute), and one who never confirmed anything."""
    made: dict[str, list] = {}

    def add(path, member):
        made.setdefault(path, []).append(member)

    for index in range(scale):
        name = f"{tag}{index}"
        add("bitbadges, proven", proven_member(f"{name}-bb", address=address_for(f"{name}bb")))
        add(
            "bitbadges, connected",
            connected(
                proven_member(f"{name}-bbc", address=address_for(f"{name}bbc")), github, name
            ),
        )
        cleared = proven_member(f"{name}-bbx", address=address_for(f"{name}bbx"))
        User.objects.filter(pk=cleared.pk).update(address_proven_at=None)
        add("bitbadges, proof cleared", cleared)
        gone = proven_member(f"{name}-bbd", address=address_for(f"{name}bbd"))
        SocialAccount.objects.filter(user=gone).delete()
        User.objects.filter(pk=gone.pk).update(address_proven_at=None)
        add("bitbadges, disconnected since", gone)
        add(
            "password, confirmed",
            verify_email(User.objects.create_user(username=f"{name}-pw", email=f"{name}@x.test")),
        )
        later = proven_member(f"{name}-pwbb", address=address_for(f"{name}pwbb"), signed_up=False)
        User.objects.filter(pk=later.pk).update(
            date_joined=timezone.now() - datetime.timedelta(days=1)
        )
        add("password, connected BitBadges later", later)
        # Its BitBadges login made within the minute of the account: still a password one.
        at_once = proven_member(f"{name}-pwnow", address=address_for(f"{name}pwn"), signed_up=False)
        add("password, connected BitBadges at once", at_once)
        add("never confirmed", User.objects.create_user(username=f"{name}-none"))
    return made


def stage_counts(stages, field="count") -> list[int]:
    return [stage[field] for stage in stages]


def test_bitbadges_sign_ups_are_a_path_beside_the_stages(admin_client, github, starter):
    seed(github, "a")
    page = admin_client.get(URL)
    data = page.context["funnel"]
    assert [stage["label"] for stage in data.stages][1] == "Email confirmed or address proven"
    assert [stage["key"] for stage in data.stages][1] == "email_confirmed"
    # Eight members: seven confirmed one way or the other (a BitBadges sign-up proved
    # the address once, whatever happened since), six of them have an address.
    assert stage_counts(data.stages)[:4] == [8, 7, 6, 1]
    # Of them, the four BitBadges sign-ups, the one who disconnected BitBadges since too;
    # not the password members who connected it later or within the minute.
    assert data.bitbadges_signups == 4
    assert stage_counts(data.stages, "bitbadges")[:4] == [4, 4, 4, 1]
    assert "Signed up with BitBadges: <strong>4</strong> of the 8 members" in page.text
    assert "signed up with BitBadges: 4<" in page.text
    (claim,) = data.claims
    assert stage_counts(claim["stages"], "bitbadges")[3:] == [1, 0, 0]
    assert "signed up with BitBadges: 1<" in page.text.split('id="funnel-claims"')[1]

    rows = read_csv(admin_client.get(CSV_URL), "funnel")
    header, overall, per_claim = rows[0], rows[1], rows[2]
    columns = [f"{stage}: signed up with BitBadges" for stage in funnel.STAGES]
    assert header[-6:] == columns
    assert [int(cell) for cell in overall[-6:]] == [4, 4, 4, 1, 0, 0]
    assert [int(cell) for cell in per_claim[-6:]] == [4, 4, 4, 1, 0, 0]


def test_the_range_picks_bitbadges_sign_ups_by_their_sign_up_day(admin_client, github):
    seed(github, "r")
    today = timezone.localdate().isoformat()
    data = admin_client.get(URL, {"since": today}).context["funnel"]
    assert data.stages[0]["count"] == 7  # the member who joined yesterday is out
    assert data.bitbadges_signups == 4


def test_staff_who_signed_up_with_bitbadges_are_not_counted(admin_client, github):
    proven_member("staffer", is_staff=True)
    data = admin_client.get(URL).context["funnel"]
    assert (data.stages[0]["count"], data.bitbadges_signups) == (0, 0)


def test_constant_number_of_queries_whatever_the_size(admin_client, github, starter):
    seed(github, "s")
    admin_client.get(URL)
    with CaptureQueriesContext(connection) as small_page:
        small = admin_client.get(URL).context["funnel"]
    with CaptureQueriesContext(connection) as small_csv:
        admin_client.get(CSV_URL)
    seed(github, "l", scale=6)
    for index in range(4):
        Claim.objects.create(slug=f"more-{index}", name=f"More {index}", delivery="workflow")
    with CaptureQueriesContext(connection) as large_page:
        large = admin_client.get(URL).context["funnel"]
    with CaptureQueriesContext(connection) as large_csv:
        admin_client.get(CSV_URL)
    assert large.bitbadges_signups == 7 * small.bitbadges_signups
    assert len(large.claims) == len(small.claims) + 4
    assert len(large_page) == len(small_page)
    assert len(large_csv) == len(small_csv)
    with CaptureQueriesContext(connection) as built:
        funnel.funnel_build()
    assert len(built) == 2  # every figure in one query; the claims and their visits
