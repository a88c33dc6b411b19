"""The whole member flow while both sandboxes fail at random (seeded).

Several members at once, each through the site over real HTTP (live_server): mint a
Connect token (POST /connect/token/), allow the hosted Connect Link page, come back to
/connect/done/, look at /accounts/ and poll /claims/. Meanwhile the sandbox's connection
webhook reaches /connect/webhook/ (its first deliveries find the database connection
cut, so the sandbox's queue must retry them), the real task worker re-fetches each
account and completes the claims, and the cron's complete_claims runs.

Every Pipedream and BitBadges endpoint the flow touches answers 5xx, 429 (with
Retry-After) or hangs past our timeouts at random. At the end: each member has their
account recorded once; each claim is completed exactly once at BitBadges (or failed
with a reason a member can read); no webhook was lost; no task failed; and nothing a
member saw was a 500.
"""

import datetime
import io
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from claims.models import Completion
from connections.models import ConnectedAccount, ConnectSession, WebhookEvent
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.bitbadges import stores as bb_sandbox_stores
from sandbox.pipedream import webhooks as sandbox_webhooks
from sandbox.pipedream.models import Account as SandboxAccount
from sandbox.pipedream.models import WebhookDelivery
from tests.claims.claims_support import random_address
from tests.live_support import wait_until_served
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 20261123
MEMBERS = 4
ROUNDS = 15
HANG = 0.6  # seconds a hung request takes; our clients give up after TIMEOUT
TIMEOUT = 0.3
TRIES = 8  # a member presses a button again at most this many times

FAULTS = {
    "pipedream.*": {"status": 502, "rate": 0.1},
    "pipedream.oauth.token": {"status": 503, "rate": 0.25},
    "pipedream.tokens.create": {"status": 429, "rate": 0.2, "retry_after": 1},
    "pipedream.connect.page": {"status": 503, "rate": 0.2},
    "pipedream.accounts.*": {"status": 500, "rate": 0.2},
    "pipedream.accounts.get": {"hang_seconds": HANG, "rate": 0.15},
    "pipedream.users.*": {"status": 429, "rate": 0.2, "retry_after": 1},
    "pipedream.actions.run": {"status": 502, "rate": 0.25},
    "pipedream.workflows.invoke": {"status": 503, "rate": 0.25},
    "bitbadges.*": {"status": 503, "rate": 0.15},
    "bitbadges.claims.*": {"status": 429, "rate": 0.1, "retry_after": 1},
    "bitbadges.claims.complete": {"hang_seconds": HANG, "rate": 0.15},
    "bitbadges.store.*": {"status": 500, "rate": 0.2},
}


def _retry_after(response) -> float:
    try:
        return min(float(response.headers.get("Retry-After", "0.2")), 1.0)
    except ValueError:
        return 0.2


def _connect(member, browser) -> dict:
    """One member's clicks, pressing again (as a person would) while the site says so."""
    for _ in range(TRIES):
        minted = browser.post("/connect/token/", json={"app": "github"})
        if minted.status_code == 200:
            break
        assert minted.headers.get("Content-Type") == "application/json", (
            minted.status_code,
            browser.seen,
            dict(browser.http.cookies),
            minted.text[-400:],
        )
        assert minted.json()["error"], minted.text  # a sentence, whatever went wrong
        time.sleep(_retry_after(minted))
    else:
        return {"member": member.username, "connected": False, "why": "no token"}
    link = minted.json()["connect_link_url"]
    for _ in range(TRIES):
        allowed = browser.post(
            link,
            data={"action": "allow", "name": f"{member.username}-pro"},
        )
        if allowed.status_code == 302:
            break
        time.sleep(_retry_after(allowed))
    else:
        return {"member": member.username, "connected": False, "why": "hosted page"}
    back = urlsplit(allowed.headers["Location"])
    assert back.path == "/connect/done/"
    # Pipedream faulting while the return is recorded answers 503 with Retry-After:
    # the member's browser asks again, as the page tells them to.
    for _ in range(TRIES):
        done = browser.get(f"{back.path}?{back.query}")
        if done.status_code != 503:
            break
        time.sleep(_retry_after(done))
    assert done.status_code == 302 and done.headers["Location"] == "/accounts/"
    page = browser.get("/accounts/")
    return {"member": member.username, "connected": True, "accounts_page": page.status_code}


def test_the_member_flow_survives_random_upstream_faults(
    demo_claims, django_user_model, browser, dbdrop, worker, settings
):
    random.seed(SEED)
    settings.PIPEDREAM_TIMEOUT = TIMEOUT
    settings.BITBADGES_TIMEOUT = TIMEOUT
    settings.CLAIMS_MAX_ATTEMPTS = 8
    settings.CONNECT_TOKEN_RATE_LIMIT = (TRIES + 2, 60)
    settings.SANDBOX_WEBHOOK_RETRY_DELAYS = (0.2, 0.5)
    settings.SANDBOX_WEBHOOK_TIMEOUT = 5
    members = [
        verify_email(
            django_user_model.objects.create_user(
                username=f"member{number}", password="connect-demo", address=random_address()
            )
        )
        for number in range(MEMBERS)
    ]
    browsers = {member.pk: browser(member) for member in members}
    # The first two webhook deliveries find their database connection cut.
    webhook_cut = dbdrop.drop(
        sql='INSERT INTO "connections_webhookevent"', path="/connect/webhook/", times=2
    )
    settings.SANDBOX_FAULTS = FAULTS

    with ThreadPoolExecutor(MEMBERS) as pool:
        outcomes = list(pool.map(lambda member: _connect(member, browsers[member.pk]), members))
    assert all(outcome["connected"] for outcome in outcomes), outcomes
    deliveries = sandbox_webhooks.wait_for_deliveries(timeout=60)

    now = timezone.now()
    for _ in range(ROUNDS):
        now += datetime.timedelta(hours=2)  # past every backoff, lease and retry time
        with time_machine.travel(now, tick=True):
            worker()
            call_command("complete_claims", stdout=io.StringIO())
            for member in members:  # the members' pages keep polling meanwhile
                browsers[member.pk].get("/claims/", headers={"HX-Request": "true"})
        # A hung request our client gave up on is still being served: let it finish.
        wait_until_served(HANG + 0.3)
        busy = Completion.objects.filter(state__in=Completion.IN_PROGRESS).exists()
        unsettled = WebhookEvent.objects.filter(outcome__in=["pending", "error"]).exists()
        if not busy and not unsettled and Completion.objects.count() == MEMBERS * 3:
            break
    else:
        pytest.fail(
            f"Not settled after {ROUNDS} rounds: "
            f"{Counter(Completion.objects.values_list('state', flat=True))}, "
            f"{Counter(WebhookEvent.objects.values_list('outcome', flat=True))}"
        )
    settings.SANDBOX_FAULTS = {}

    # No member saw a 500; every error they saw came with a sentence.
    seen = Counter(status for b in browsers.values() for _, _, status in b.seen)
    assert 500 not in seen, seen
    assert set(seen) <= {200, 202, 302, 400, 403, 404, 409, 410, 429, 502, 503}, seen
    # The faults did bite on the members' side too.
    assert sum(count for status, count in seen.items() if status >= 429) > 0, seen

    # No lost webhook: every delivery arrived, the first ones only on a retry.
    assert len(webhook_cut.fired) == 2
    deliveries = list(WebhookDelivery.objects.all())
    assert len(deliveries) == MEMBERS
    assert {d.status for d in deliveries} == {"delivered"}, [d.last_error for d in deliveries]
    assert sum(d.attempts for d in deliveries) >= MEMBERS + 2
    assert not WebhookEvent.objects.filter(outcome__in=["pending", "error", "refused"]).exists()

    # Each member's account recorded once, the session it came from connected.
    for member in members:
        [upstream] = SandboxAccount.objects.filter(user__external_id=str(member.external_id))
        [account] = ConnectedAccount.objects.filter(member=member)
        assert account.pipedream_id == upstream.account_id
        session = ConnectSession.objects.get(member=member, status="connected")
        assert session.account == account

    # Each claim completed exactly once upstream, or failed with a reason.
    assert Completion.objects.count() == MEMBERS * len(demo_claims)
    states = Counter(Completion.objects.values_list("state", flat=True))
    assert set(states) <= {"completed", "failed"}, states
    assert states["completed"] > 0
    for completion in Completion.objects.select_related("claim", "member"):
        claim, member = completion.claim, completion.member
        if completion.state == "failed":
            assert completion.reason, completion
        if claim.delivery == "dynamic_store":
            if completion.state == "completed":
                assert bb_sandbox_stores.store_contains(claim.store_id, member.address), completion
        else:
            with time_machine.travel(now + datetime.timedelta(minutes=5), tick=True):
                count = bb_sandbox_attempts.completions(claim.bitbadges_claim_id, member.address)
            assert count <= 1, (claim.slug, member.username, count)
            if completion.state == "completed":
                assert count == 1, (claim.slug, member.username)
    # No task died with an error (each one settled or queued its own retry).
    failed = DBTaskResult.objects.filter(status="FAILED")
    assert not failed.exists(), list(
        failed.values_list("task_path", "exception_class_path", "traceback")
    )
