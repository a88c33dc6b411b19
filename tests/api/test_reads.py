"""What the read API answers: a member's completions and connected apps (by host id or
external id), a claim's completions a page at a time; the shapes issue 23 fixed, bad
input refused with 400 or 404 (never a 500), and the same few queries per page
whatever its size. Every answer is checked against the OpenAPI description."""

import base64
import uuid

import pytest
from allauth.socialaccount.models import SocialAccount
from django.utils import timezone

from claims.models import Claim, Completion
from connections.models import App, ConnectedAccount
from tests.api.api_support import host_signed_on

pytestmark = pytest.mark.django_db

MEMBER_COMPLETIONS = "/api/v1/members/completions"
MEMBER_ACCOUNTS = "/api/v1/members/accounts"
CLAIM_COMPLETIONS = "/api/v1/claims/github-starter/completions"
COMPLETION_KEYS = {
    "id",
    "claim",
    "member",
    "state",
    "reason",
    "address",
    "completed_at",
    "updated_at",
}


def test_a_members_completions_by_host_id_and_by_external_id_are_the_same(api, alice, claim):
    done = Completion.objects.create(
        claim=claim,
        member=alice,
        state="completed",
        reason="Completed.",
        address="bb1qexample",
        completed_at=timezone.now().replace(microsecond=123456),
    )
    done.refresh_from_db()
    by_host = api.get(MEMBER_COMPLETIONS, {"host_id": "host-alice-0001"}).json()
    by_external = api.get(MEMBER_COMPLETIONS, {"external_id": str(alice.external_id)}).json()
    assert by_host == by_external
    member = {"host_id": "host-alice-0001", "external_id": str(alice.external_id)}
    assert by_host["member"] == member
    [item] = by_host["results"]
    assert set(item) == COMPLETION_KEYS
    assert item["id"] == done.pk
    assert (item["claim"], item["member"], item["state"]) == ("github-starter", member, "completed")
    assert (item["reason"], item["address"]) == ("Completed.", "bb1qexample")
    # In full, UTC, with a Z: as the webhooks write times.
    assert item["completed_at"] == done.completed_at.isoformat().replace("+00:00", "Z")
    assert item["updated_at"] == done.updated_at.isoformat().replace("+00:00", "Z")


def test_a_member_who_never_signed_on_from_the_host_has_host_id_null(api, member, claim):
    Completion.objects.create(claim=claim, member=member, state="waiting")
    body = api.get(MEMBER_COMPLETIONS, {"external_id": str(member.external_id)}).json()
    assert body["member"] == {"host_id": None, "external_id": str(member.external_id)}
    assert body["results"][0]["completed_at"] is None


def test_a_members_connected_apps(api, alice):
    github = App.objects.create(slug="github", name="GitHub")
    discord = App.objects.create(slug="discord", name="Discord")
    ConnectedAccount.objects.create(member=alice, app=github, pipedream_id="apn_1")
    ConnectedAccount.objects.create(member=alice, app=discord, pipedream_id="apn_2", healthy=False)
    ConnectedAccount.objects.create(member=alice, app=github, pipedream_id="apn_3", dead=True)
    body = api.get(MEMBER_ACCOUNTS, {"host_id": "host-alice-0001"}).json()
    assert body["member"]["host_id"] == "host-alice-0001"
    assert [(a["id"], a["app"], a["health"]) for a in body["results"]] == [
        ("apn_1", "github", "healthy"),
        ("apn_2", "discord", "unhealthy"),
        ("apn_3", "github", "dead"),
    ]
    assert set(body["results"][0]) == {"id", "app", "health", "connected_at"}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"host_id": "host-alice-0001", "external_id": str(uuid.uuid4())},
        {"host_id": ""},
        {"host_id": "host\x00alice"},
        {"host_id": "host\nalice"},
        {"host_id": "h" * 256},
        {"external_id": "not-a-uuid"},
        {"external_id": "'; DROP TABLE users_user; --"},
        {"external_id": "9" * 5000},
    ],
)
@pytest.mark.parametrize("url", [MEMBER_COMPLETIONS, MEMBER_ACCOUNTS])
def test_a_member_not_named_by_exactly_one_good_id_is_400(api, alice, url, params):
    response = api.get(url, params)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert response.json()["detail"]


@pytest.mark.parametrize("url", [MEMBER_COMPLETIONS, MEMBER_ACCOUNTS])
def test_an_unknown_member_is_the_same_404_by_either_id(api, alice, url):
    # alice's BitBadges login has a uid too: it is not a host id.
    SocialAccount.objects.create(user=alice, provider="bitbadges", uid="bb-uid-1")
    answers = [
        api.get(url, {"host_id": "host-nobody"}),
        api.get(url, {"host_id": "bb-uid-1"}),
        api.get(url, {"host_id": "h\u00e9\u2603" * 20}),
        api.get(url, {"external_id": str(uuid.uuid4())}),
    ]
    assert {response.status_code for response in answers} == {404}
    assert {response.content for response in answers} == {answers[0].content}
    assert answers[0].json()["error"] == "member_not_found"


def _completions(claim, members, **fields):
    return [Completion.objects.create(claim=claim, member=m, **fields) for m in members]


def test_a_claims_completions_page_by_page_while_rows_are_added(api, claim, make_members):
    first = _completions(claim, make_members(7), state="completed")
    other = Claim.objects.create(slug="other", name="Other", delivery="bitbadges")
    _completions(other, make_members(2, start=100))  # another claim's: never listed
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get(CLAIM_COMPLETIONS, params).json()
        seen += [item["id"] for item in body["results"]]
        assert all(item["claim"] == "github-starter" for item in body["results"])
        cursor, pages = body["next_cursor"], pages + 1
        assert pages <= 5, "the cursor does not move on"
        if pages == 1:
            # Meanwhile: two new completions, and the first one changes state.
            added = _completions(claim, make_members(2, start=50), state="waiting")
            Completion.objects.filter(pk=first[0].pk).update(state="revoked")
        if cursor is None:
            break
    assert pages == 3
    assert seen == [c.pk for c in first + added]  # in id order, none twice, none missed


def test_the_last_page_has_no_next_cursor_and_an_empty_claim_is_one_empty_page(api, claim):
    body = api.get(CLAIM_COMPLETIONS).json()
    assert body == {"results": [], "next_cursor": None}


def test_a_completion_of_a_deleted_member_shows_member_null(api, claim, alice, make_members):
    [bob] = make_members(1)
    host_signed_on(bob, "host-bob-0002")
    _completions(claim, [alice, bob], state="completed")
    bob.delete()
    results = api.get(CLAIM_COMPLETIONS).json()["results"]
    assert results[0]["member"]["host_id"] == "host-alice-0001"
    assert results[1]["member"] is None


def test_the_state_filter(api, claim, make_members):
    members = make_members(4)
    _completions(claim, members[:3], state="completed")
    _completions(claim, members[3:], state="failed")
    body = api.get(CLAIM_COMPLETIONS, {"state": "failed", "limit": 2}).json()
    assert [item["state"] for item in body["results"]] == ["failed"]
    assert body["next_cursor"] is None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": -1},
        {"limit": "ten"},
        {"limit": "9" * 40},
        {"cursor": "!!!"},
        {"cursor": "\x00"},
        {"cursor": "a" * 101},
        {"cursor": _b64("a0")},
        {"cursor": _b64("a-5")},
        {"cursor": _b64("a" + "9" * 19)},
        {"cursor": _b64("\u00e9")},
        {"cursor": _b64("p=5&o=2")},
        {"state": "nope"},
        {"state": "completed\x00"},
    ],
)
def test_bad_paging_input_is_400_never_500(api, claim, params):
    response = api.get(CLAIM_COMPLETIONS, params)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_a_bad_cursor_says_what_to_do(api, claim):
    detail = api.get(CLAIM_COMPLETIONS, {"cursor": "nonsense"}).json()["detail"]
    assert "next_cursor" in detail


@pytest.mark.parametrize(
    "slug", ["nope", "a%00b", "x" * 5000, "%E2%98%83", "github-starter%20", "github_starter"]
)
def test_an_unknown_claim_is_404(api, claim, slug):
    response = api.get(f"/api/v1/claims/{slug}/completions")
    assert response.status_code == 404
    assert response.json()["error"] == "claim_not_found"


def test_other_paths_under_api_are_a_json_404(client):
    for path in ("/api/", "/api/v2/members", "/api/v1/nothing", "/api/v1/claims/..%2F../x"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"


def test_the_same_queries_per_page_whatever_its_size(
    api, claim, make_members, django_assert_num_queries
):
    members = make_members(12)
    for index, member in enumerate(members[:6]):
        host_signed_on(member, f"host-{index}")
    _completions(claim, members, state="completed")
    api.get(CLAIM_COMPLETIONS, {"limit": 1})  # the key's last use is written (once a minute)
    # The key, the claim, the page, the page's members' host ids.
    with django_assert_num_queries(4):
        assert len(api.get(CLAIM_COMPLETIONS, {"limit": 1}).json()["results"]) == 1
    with django_assert_num_queries(4):
        assert len(api.get(CLAIM_COMPLETIONS, {"limit": 100}).json()["results"]) == 12


def test_the_same_queries_for_a_member_with_many_rows(
    api, alice, make_members, django_assert_num_queries
):
    app = App.objects.create(slug="github", name="GitHub")
    claims = [
        Claim.objects.create(slug=f"c{i}", name=f"C{i}", delivery="bitbadges") for i in range(5)
    ]
    params = {"host_id": "host-alice-0001"}
    api.get(MEMBER_COMPLETIONS, params)
    # The key, the member (two: host id, then external id), the rows.
    with django_assert_num_queries(4):
        assert api.get(MEMBER_COMPLETIONS, params).json()["results"] == []
    with django_assert_num_queries(4):
        assert api.get(MEMBER_ACCOUNTS, params).json()["results"] == []
    for index, claim in enumerate(claims):
        Completion.objects.create(claim=claim, member=alice)
        ConnectedAccount.objects.create(member=alice, app=app, pipedream_id=f"apn_{index}")
    with django_assert_num_queries(4):
        assert len(api.get(MEMBER_COMPLETIONS, params).json()["results"]) == 5
    with django_assert_num_queries(4):
        assert len(api.get(MEMBER_ACCOUNTS, params).json()["results"]) == 5


@pytest.mark.parametrize(
    ("url", "query"),
    [
        (MEMBER_COMPLETIONS, "host_id=host-alice-0001&host_id=host-bob-0002"),
        (MEMBER_ACCOUNTS, "external_id={0}&external_id={0}"),
        (CLAIM_COMPLETIONS, "limit=1&limit=100"),
        (CLAIM_COMPLETIONS, "state=completed&state=failed"),
    ],
)
def test_a_parameter_given_twice_is_400(api, alice, claim, url, query):
    response = api.get(f"{url}?{query.format(alice.external_id)}")
    assert response.status_code == 400
    assert "more than once" in response.json()["detail"]


def test_paging_goes_on_when_the_cursors_row_is_deleted(api, claim, make_members):
    rows = _completions(claim, make_members(4), state="completed")
    first = api.get(CLAIM_COMPLETIONS, {"limit": 2}).json()
    assert [item["id"] for item in first["results"]] == [rows[0].pk, rows[1].pk]
    Completion.objects.filter(pk__in=[rows[1].pk, rows[2].pk]).delete()
    rest = api.get(CLAIM_COMPLETIONS, {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert rest == {**rest, "next_cursor": None}
    assert [item["id"] for item in rest["results"]] == [rows[3].pk]


def test_a_full_last_page_is_followed_by_none(api, claim, make_members):
    _completions(claim, make_members(4), state="completed")
    first = api.get(CLAIM_COMPLETIONS, {"limit": 4}).json()
    assert len(first["results"]) == 4 and first["next_cursor"] is None


def test_answers_are_not_to_be_stored_by_caches(api, alice):
    response = api.get(MEMBER_COMPLETIONS, {"host_id": "host-alice-0001"})
    assert response["Cache-Control"] == "no-store"
    refused = api.get(MEMBER_COMPLETIONS, {"host_id": "host-alice-0001"}, key="")
    assert refused["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("url", [MEMBER_COMPLETIONS, CLAIM_COMPLETIONS])
def test_any_method_but_get_is_a_json_405(client, key, url, method):
    response = client.generic(method, url, headers={"authorization": f"Bearer {key[0]}"})
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    if method != "HEAD":  # a HEAD answer has no body
        assert response.json()["error"] == "method_not_allowed"


def test_the_description_takes_get_and_head_only(client):
    assert client.head("/api/v1/openapi.json").status_code == 200
    refused = client.post("/api/v1/openapi.json")
    assert refused.status_code == 405 and refused["Allow"] == "GET, HEAD"
    assert client.generic("OPTIONS", "/api/v1/docs").status_code == 405


def test_ninjas_root_is_a_json_404_too(client):
    response = client.get("/api/v1/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_bug_reaches_django_even_with_debug_on(api, claim, settings, monkeypatch):
    """Not ninja's DEBUG answer (the traceback as text): Django's own handling, so the
    database middleware may retry and the error is reported as any other."""
    settings.DEBUG = True

    def broken(slug):
        raise RuntimeError("a bug")

    monkeypatch.setattr("api.reads.claim_id_for", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        api.client.get(CLAIM_COMPLETIONS, headers={"authorization": f"Bearer {api.key}"})
