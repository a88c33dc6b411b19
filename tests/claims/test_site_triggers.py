"""A trigger on a shared resource runs once, on the site's account (issue 15, item 3).

github-new-star fires when anyone stars the repository. Deployed per member, every
member's deployment would wake for every star; deployed once on an account the operator
connects for the site, each event checks only the member whose GitHub account it names.
Everything goes over real HTTP to the sandbox, and through the real task worker.
"""

import datetime
import html

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from claims import triggers
from claims.models import Claim, Completion, CompletionEvent, TriggerDelivery, TriggerDeployment
from connections import services as connections_services
from connections.models import SiteAccount
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.pipedream import services as pd_sandbox
from sandbox.pipedream import triggers as sandbox_triggers
from sandbox.pipedream import webhooks as sandbox_webhooks
from sandbox.pipedream.catalogue import DEMO_STARRED_REPO
from sandbox.pipedream.models import Account, DeployedTrigger
from tests.claims.admin_support import claim_form_data
from tests.claims.claims_support import run_worker
from tests.claims.triggers_support import star_claim
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "site"


def connect_for_site(app_slug="github", name="bitbadges"):
    """What an operator does on Pipedream's hosted page, then the sync that records it."""
    _, token = pd_sandbox.connect_token_create(
        project_id="proj_sandbox", environment="development", external_user_id=SITE
    )
    upstream = pd_sandbox.account_connect(token=token, app_slug=app_slug, name=name)
    connections_services.site_accounts_sync()
    return upstream


@pytest.fixture
def bob(django_user_model):
    return verify_email(
        django_user_model.objects.create_user(
            username="bob", email="bob@example.com", password="connect-demo"
        )
    )


@pytest.fixture
def shared_claim(apps, upstreams, settings):
    settings.SANDBOX_WEBHOOK_RETRY_DELAYS = (0, 0)
    return star_claim(
        apps["github"],
        slug="stargazer",
        name="Stargazer",
        trigger_scope=Claim.TriggerScope.SITE,
        recheck_interval=datetime.timedelta(days=1),
    )


def star(deployment: TriggerDeployment, login: str):
    """Someone stars the repository: the site's trigger emits GitHub's star webhook."""
    event = {"action": "created", "starred_at": "2026-01-01T00:00:00Z", "sender": {"login": login}}
    sandbox_triggers.emit(deployment.pipedream_id, event)
    delivered = [d for d in sandbox_webhooks.wait_for_deliveries() if d.event == "TRIGGER_EVENT"]
    assert [d.last_status_code for d in delivered] == [202]


def checks_of(member) -> int:
    return CompletionEvent.objects.filter(completion__member=member, actor_kind="trigger").count()


def test_one_star_checks_one_member_with_one_deployment_for_the_claim(
    shared_claim, alice, bob, connect
):
    connect_for_site()
    connect(alice, "github", "octo")  # neither has starred the repository yet
    connect(bob, "github", "hubot")
    triggers.site_deployment_sync(shared_claim)
    run_worker()  # their first checks: not eligible
    assert Completion.objects.get(claim=shared_claim, member=alice).state == "ineligible"

    # One deployment for the claim, on the site's account, whoever connects.
    [deployment] = TriggerDeployment.objects.filter(claim=shared_claim)
    assert deployment.member is None and deployment.status == "active"
    assert deployment.site_account == SiteAccount.objects.get()
    [upstream] = DeployedTrigger.objects.all()
    assert upstream.user.external_id == SITE
    assert upstream.configured_props["repoFullname"] == DEMO_STARRED_REPO

    star(deployment, "OCTO")  # GitHub logins compare without case
    run_worker()
    delivery = TriggerDelivery.objects.get()
    assert "A check was asked for 1 member(s)" in delivery.detail, delivery.detail
    assert checks_of(alice) >= 1 and checks_of(bob) == 0
    completion = Completion.objects.get(claim=shared_claim, member=alice)
    assert completion.state == "completed", completion.reason
    assert bb_sandbox_attempts.completions(shared_claim.bitbadges_claim_id, alice.address) == 1
    # The shared deployment stays for everyone else.
    assert TriggerDeployment.objects.filter(claim=shared_claim).count() == 1
    assert DeployedTrigger.objects.count() == 1


def test_a_star_by_nobody_known_checks_nobody(shared_claim, alice, connect):
    connect_for_site()
    connect(alice, "github", "octo")
    deployment = triggers.site_deployment_sync(shared_claim)
    run_worker()
    before = CompletionEvent.objects.count()
    star(deployment, "a-stranger")
    run_worker()
    assert "nobody checked" in TriggerDelivery.objects.get().detail
    assert CompletionEvent.objects.count() == before


def test_members_connecting_deploy_nothing_of_their_own(shared_claim, alice, bob, connect):
    connect(alice, "github", "octo")
    connect(bob, "github", "hubot")
    run_worker()
    assert not TriggerDeployment.objects.filter(member__isnull=False).exists()
    assert not DeployedTrigger.objects.exists()


def test_without_a_site_account_the_deployment_waits_and_says_why(shared_claim):
    assert triggers.site_deployment_sync(shared_claim) is None
    row = TriggerDeployment.objects.get(claim=shared_claim)
    assert row.status == "failed" and "connected for the site" in row.error
    assert not DeployedTrigger.objects.exists()

    # Connecting one moves the claim onto it (the sync's signal, then the worker).
    connect_for_site()
    run_worker()
    row.refresh_from_db()
    assert row.status == "active", row.error
    assert DeployedTrigger.objects.get().user.external_id == SITE


def test_disabling_the_claim_removes_its_trigger_upstream(shared_claim):
    connect_for_site()
    assert triggers.site_deployment_sync(shared_claim) is not None
    Claim.objects.filter(pk=shared_claim.pk).update(enabled=False)
    assert triggers.site_deployment_sync(shared_claim) is None
    assert not TriggerDeployment.objects.exists()
    assert not DeployedTrigger.objects.exists()


def test_a_lost_site_deployment_is_made_by_recheck(shared_claim):
    connect_for_site()
    assert not TriggerDeployment.objects.exists()
    assert triggers.tidy() == 1
    assert TriggerDeployment.objects.get().status == "active"


def test_the_site_account_going_away_stops_the_trigger(shared_claim):
    upstream = connect_for_site()
    triggers.site_deployment_sync(shared_claim)
    # Deleted at Pipedream (by someone, somewhere): the sync sees it gone.
    Account.objects.filter(account_id=upstream.account_id).delete()
    connections_services.site_accounts_sync()
    run_worker()
    assert not SiteAccount.objects.exists()
    row = TriggerDeployment.objects.get(claim=shared_claim)
    assert row.status == "failed" and "connected for the site" in row.error


# --- The admin --------------------------------------------------------------------------


def site_claim_data(claim_id, apps, **fields):
    blank = Claim(slug="stars", name="Stars", delivery="bitbadges")
    return claim_form_data(
        blank,
        enabled=True,
        password_instance_id="pwd",
        password="pw",
        bitbadges_claim_id=claim_id,
        requirements=[
            {
                "app": apps["github"],
                "kind": "proxy",
                "proxy_url": f"https://api.github.com/user/starred/{DEMO_STARRED_REPO}",
                "path": "$status",
                "comparison": "eq",
                "value": "204",
            }
        ],
        trigger_app=str(apps["github"].pk),
        trigger="github-new-star",
        trigger_scope="site",
        trigger_props=f'{{"repoFullname": "{DEMO_STARRED_REPO}"}}',
        recheck_interval="1 00:00:00",
        **fields,
    )


def test_the_admin_refuses_a_site_trigger_with_no_site_account(admin_client, apps, upstreams):
    upstream = bb_sandbox_claims.claim_create(password="pw")
    response = admin_client.post(
        reverse("admin:claims_claim_add"), site_claim_data(upstream.claim_id, apps)
    )
    assert response.status_code == 200
    said = " ".join(response.context["adminform"].form.errors["trigger_scope"])
    assert "No usable GitHub account is connected for the site" in said
    assert "Site accounts" in said
    assert not Claim.objects.exists() and not TriggerDeployment.objects.exists()


def test_the_admin_deploys_on_save_and_the_site_account_pages_work(admin_client, apps, upstreams):
    # Connect for the site: the admin sends the operator to Pipedream's hosted page.
    page = admin_client.get(reverse("admin:connections_siteaccount_changelist"))
    assert "Connect for the site" in page.content.decode()
    response = admin_client.post(
        reverse("admin:connections_siteaccount_connect"), {"app": apps["github"].pk}
    )
    assert response.status_code == 302 and "app=github" in response["Location"]
    _, token = pd_sandbox.connect_token_create(
        project_id="proj_sandbox", environment="development", external_user_id=SITE
    )
    pd_sandbox.account_connect(token=token, app_slug="github", name="bitbadges")
    # Back from the page: what is recorded is read from Pipedream, not from the URL.
    back = admin_client.get(reverse("admin:connections_siteaccount_returned") + "?result=success")
    assert back.status_code == 302
    assert SiteAccount.objects.get().name == "bitbadges"

    upstream = bb_sandbox_claims.claim_create(password="pw")
    saved = admin_client.post(
        reverse("admin:claims_claim_add"), site_claim_data(upstream.claim_id, apps)
    )
    assert saved.status_code == 302
    run_worker()
    deployment = TriggerDeployment.objects.get()
    assert deployment.member is None and deployment.status == "active"


def test_connecting_for_the_site_needs_the_add_permission(client, django_user_model, apps):
    staff = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_siteaccount"))
    client.force_login(staff)
    page = client.get(reverse("admin:connections_siteaccount_changelist"))
    assert page.status_code == 200 and "Connect for the site" not in page.content.decode()
    assert client.get(reverse("admin:connections_siteaccount_connect")).status_code == 403
    assert client.get(reverse("admin:connections_siteaccount_returned")).status_code == 403
    refused = client.post(reverse("admin:connections_siteaccount_connect"), {"app": "x"})
    assert refused.status_code == 403
    # A sync can move or stop the claims' shared triggers: not for a viewer either.
    assert "Sync from Pipedream" not in page.content.decode()
    assert client.post(reverse("admin:connections_siteaccount_sync")).status_code == 403


def test_a_bad_app_is_a_form_error_not_a_500(admin_client, upstreams):
    response = admin_client.post(reverse("admin:connections_siteaccount_connect"), {"app": "9999"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_the_member_is_told_the_shared_trigger_watches_for_them(
    shared_claim, alice, connect, client
):
    shared_claim.trigger_event_label = f"you star {DEMO_STARRED_REPO}"
    shared_claim.save(update_fields=["trigger_event_label"])
    connect(alice, "github", "octo")
    run_worker()
    client.force_login(alice)
    promise = f"We'll complete this as soon as you star {DEMO_STARRED_REPO}."
    # The sentence is built by the claim's row and escaped in the page (We&#x27;ll).
    page = html.unescape(client.get("/claims/").content.decode())
    assert promise not in page  # nothing watches yet
    assert "We check again by ourselves on " in page  # only the daily re-check
    connect_for_site()
    run_worker()  # the site's account appeared: the claim's trigger is deployed on it
    assert promise in html.unescape(client.get("/claims/").content.decode())
    landing = html.unescape(client.get(f"/c/{shared_claim.slug}/").content.decode())
    assert f"We'll complete it as soon as you star {DEMO_STARRED_REPO}." in landing


def test_the_deployments_admin_names_the_site(shared_claim, admin_client):
    connect_for_site()
    deployment = triggers.site_deployment_sync(shared_claim)
    listing = admin_client.get(reverse("admin:claims_triggerdeployment_changelist"))
    assert "The site (one for the claim)" in listing.content.decode()
    page = admin_client.get(
        reverse("admin:claims_triggerdeployment_change", args=[deployment.pk])
    ).content.decode()
    assert "bitbadges" in page and deployment.signing_key() not in page


def test_the_health_poll_notices_the_site_account_dying(shared_claim):
    from connections.tasks import accounts_health_poll

    upstream = connect_for_site()
    assert triggers.site_deployment_sync(shared_claim).status == "active"
    Account.objects.filter(account_id=upstream.account_id).update(dead=True, healthy=False)
    accounts_health_poll.call()
    run_worker()
    assert SiteAccount.objects.get().health == "dead"
    row = TriggerDeployment.objects.get(claim=shared_claim)
    assert row.status == "failed" and "No usable GitHub account" in row.error
    assert not DeployedTrigger.objects.exists()  # nothing left running on a dead account


def test_the_sync_task_tries_again_while_pipedream_does_not_answer(settings, upstreams):
    from django_tasks_db.models import DBTaskResult  # the queue the worker reads

    from connections.tasks import site_accounts_sync_task

    settings.PIPEDREAM_API_URL = "http://127.0.0.1:9"  # nothing listens there
    assert site_accounts_sync_task.call() == "requeued"
    queued = DBTaskResult.objects.get()
    assert queued.args_kwargs["args"][0] == 2 and queued.run_after is not None


# --- The demo, as the README walks through it ------------------------------------------


def test_the_demo_stargazer_completes_when_alice_stars_on_the_sandbox_page(
    apps, upstreams, alice, connect, admin_client, settings
):
    from members.management.commands.seed_demo import _claim_upsert, demo_claim_specs
    from sandbox import demo as sandbox_demo

    settings.SANDBOX_WEBHOOK_RETRY_DELAYS = (0, 0)
    demo = sandbox_demo.demo_ensure()  # sandbox_setup: the site's GitHub account too
    [spec] = [s for s in demo_claim_specs(demo["claims"]) if s["slug"] == "stargazer"]
    stargazer, _ = _claim_upsert(spec)
    assert stargazer.trigger_scope == "site"
    connect(alice, "github", "octo")
    # What seed_demo queues: the site's accounts read from Pipedream, the trigger deployed.
    from connections.tasks import site_accounts_sync_task

    site_accounts_sync_task.enqueue(announce_all=True)
    run_worker()
    run_worker()
    deployment = TriggerDeployment.objects.get(claim=stargazer)
    assert deployment.member is None and deployment.status == "active", deployment.error
    upstream = DeployedTrigger.objects.get()
    assert upstream.account.name == "bitbadges" and upstream.dynamic_props_id

    page = admin_client.get("/sandbox/").content.decode()
    assert "Star as" in page and '<option value="octo">' in page
    refused = admin_client.post(
        f"/sandbox/triggers/{upstream.pk}/emit", {"star_as": "<script>"}, follow=True
    )
    assert "no GitHub account here has the login" in refused.content.decode()
    admin_client.post(f"/sandbox/triggers/{upstream.pk}/emit", {"star_as": "octo", "apply": "on"})
    sandbox_webhooks.wait_for_deliveries()
    run_worker()
    run_worker()
    completion = Completion.objects.get(claim=stargazer, member=alice)
    assert completion.state == "completed", completion.reason


def test_a_burst_longer_than_one_read_says_so_and_the_recheck_catches_up(
    shared_claim, alice, connect
):
    import time

    from sandbox.pipedream.models import TriggerEvent, sortable_id

    connect_for_site()
    connect(alice, "github", "octo")
    deployment = triggers.site_deployment_sync(shared_claim)
    run_worker()
    upstream = DeployedTrigger.objects.get()
    now = int(time.time() * 1000)
    # alice's star, then more strangers' stars than one read of the events list holds.
    burst = [{"action": "created", "sender": {"login": "octo"}}] + [
        {"action": "created", "sender": {"login": f"stranger-{n}"}} for n in range(100)
    ]
    for offset, event in enumerate(burst):
        TriggerEvent.objects.create(
            trigger=upstream, event_id=sortable_id("evt_"), ts=now + offset, payload=event
        )
    star(deployment, "another-stranger")  # the delivery that wakes us
    run_worker()
    detail = TriggerDelivery.objects.get().detail
    assert "older ones may not have been read" in detail, detail
    assert checks_of(alice) == 0  # her event was past the read...
    # ...and the claim's re-check (required for a trigger on the site's account) is set
    # for her, so she is caught up within the interval.
    completion = Completion.objects.get(claim=shared_claim, member=alice)
    assert completion.state == "ineligible" and completion.recheck_at is not None


def test_a_trigger_on_the_sites_account_needs_a_recheck_interval(shared_claim):
    from django.core.exceptions import ValidationError

    shared_claim.recheck_interval = None
    with pytest.raises(ValidationError, match="set a re-check interval"):
        shared_claim.full_clean()


def test_one_claims_orphan_sweep_never_removes_anothers_deploy_in_flight(shared_claim):
    connect_for_site()
    other = Claim.objects.get(pk=shared_claim.pk)
    other.pk, other.slug = None, "second-repo"
    other.trigger_props = {"repoFullname": "bitbadges/bitbadges-docs"}
    other.save()
    in_flight = triggers.site_deployment_sync(other)
    # Its deploy reached Pipedream, but its answer has not reached us yet.
    TriggerDeployment.objects.filter(pk=in_flight.pk).update(status="deploying", pipedream_id="")

    assert triggers.site_deployment_sync(shared_claim).status == "active"
    assert DeployedTrigger.objects.filter(trigger_id=in_flight.pipedream_id).exists()
    assert DeployedTrigger.objects.count() == 2


def test_a_lost_deploy_answer_leaves_no_orphan_on_the_sites_account(shared_claim, monkeypatch):
    from connections import pipedream

    connect_for_site()
    real_deploy = pipedream.PipedreamClient.deploy_trigger
    lost = []

    def deploy_and_lose_the_answer(self, **kwargs):
        answer = real_deploy(self, **kwargs)
        if not lost:
            lost.append(answer["id"])
            raise pipedream.Unavailable("the answer was lost", operation="deploy a trigger")
        return answer

    monkeypatch.setattr(pipedream.PipedreamClient, "deploy_trigger", deploy_and_lose_the_answer)
    assert triggers.site_deployment_sync(shared_claim) is None  # failed: tried again later
    assert triggers.tidy() == 1
    [upstream] = DeployedTrigger.objects.all()
    assert upstream.trigger_id != lost[0]
    assert TriggerDeployment.objects.get().pipedream_id == upstream.trigger_id


def test_a_claim_whose_trigger_runs_is_not_deleted_until_disabled(shared_claim, admin_client):
    connect_for_site()
    triggers.site_deployment_sync(shared_claim)
    url = reverse("admin:claims_claim_delete", args=[shared_claim.pk])
    page = admin_client.post(url, {"post": "yes"})
    assert page.status_code == 200 and "Cannot delete claim" in page.content.decode()
    assert Claim.objects.filter(pk=shared_claim.pk).exists()
    assert DeployedTrigger.objects.count() == 1  # still watched, not orphaned upstream

    Claim.objects.filter(pk=shared_claim.pk).update(enabled=False)
    triggers.site_deployment_sync(shared_claim)  # what saving it disabled queues
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Claim.objects.filter(pk=shared_claim.pk).exists()
    assert not DeployedTrigger.objects.exists()


def test_the_newest_usable_site_account_is_used_and_the_trigger_follows_it(shared_claim):
    older = connect_for_site(name="bitbadges")
    newer = connect_for_site(name="bitbadges-bot")
    deployment = triggers.site_deployment_sync(shared_claim)
    assert deployment.account_pipedream_id == newer.account_id  # Pipedream's own rule
    # The newer one dies: the next sync moves the claim's trigger onto the older one.
    Account.objects.filter(account_id=newer.account_id).update(dead=True, healthy=False)
    connections_services.site_accounts_sync()
    run_worker()
    moved = TriggerDeployment.objects.get(claim=shared_claim)
    assert moved.status == "active" and moved.account_pipedream_id == older.account_id
    [upstream] = DeployedTrigger.objects.all()
    assert upstream.trigger_id == moved.pipedream_id
    assert upstream.account.account_id == older.account_id
