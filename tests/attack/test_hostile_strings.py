"""Hostile strings from upstream, rendered everywhere.

Accounts are connected the real way: alice follows the Connect Link hand-off to the
sandbox's hosted page over HTTP, types a hostile account name there, comes back through
/connect/done/, and the app syncs the account from the sandbox's API. The sandbox's
control page then gives the accounts hostile health errors and hostile GitHub profiles
(the login a criterion reads), a claim checks alice against that login (the value seen
is kept as evidence), and the app catalogue gets a hostile app name and image URL.

Every member page and fragment, and every admin changelist and change view of every
registered model, is then read: no payload appears raw, the escaped form shows where
the value is shown, no javascript: URL lands in an href or src, and every HTML page
carries the project's CSP with no inline script."""

import html
import json
import re
from urllib.parse import urlsplit

import pytest
import responses
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from claims.models import Claim, Completion
from connections import services as connections_services
from connections.models import App, ConnectedAccount
from sandbox.pipedream import catalogue
from sandbox.pipedream import webhooks as sandbox_webhooks
from sandbox.pipedream.models import Account as SandboxAccount
from tests.claims.claims_support import add_check, require, run_worker

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "attribute": '"><img src=x onerror=alert(1)>',
    "single quote": "'><svg onload=alert(1)>",
    "javascript url": "javascript:alert(document.cookie)",
    "template": "{{ 7*7 }}{% now 'Y' %}",
    "rtl override": "\u202eexe.txt\u202c <b>rtl</b>",
    "long": "A" * 180 + "<i>long</i>",
    "control chars": "ctl\x07\x1b[31m<u>bell</u>\x7f",
    "emoji": "🦄👩\u200d💻🏳️\u200d🌈 <em>emoji</em>",
}
SPECIAL = re.compile(r"[<>\"'&]")


def connect_through_the_hosted_page(client: Client, app_slug: str, name: str) -> str:
    """Alice connects an account named `name`; returns its Pipedream id."""
    response = client.get(f"/connect/{app_slug}/")
    assert response.status_code == 302, response.content[:300]
    hosted = urlsplit(response["Location"])
    assert hosted.path.endswith("/_static/connect.html")
    response = client.post(f"{hosted.path}?{hosted.query}", {"action": "allow", "name": name})
    assert response.status_code == 302, response.content[:500]
    back = urlsplit(response["Location"])
    assert back.path == "/connect/done/"
    response = client.get(f"{back.path}?{back.query}")
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    return SandboxAccount.objects.get(name=name.strip()[:200]).account_id


def html_checks(response, what: str, *, shown=()):
    """No payload raw; `shown` payloads escaped; the CSP set, no inline script."""
    assert response.status_code == 200, f"{what}: {response.status_code}"
    text = response.content.decode("utf-8")
    for name, payload in PAYLOADS.items():
        if SPECIAL.search(payload):
            assert payload not in text, f"{what}: the {name} payload appears unescaped"
    for payload in shown:
        assert (
            html.escape(payload) in text
            or html.escape(payload, quote=False) in text
            or (_django_escape(payload) in text)
        ), f"{what}: {payload!r} is not shown escaped"
    assert not re.search(
        r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", text, re.I
    ), f"{what}: a javascript: URL in an attribute"
    if not response.get("Content-Type", "").startswith("text/html"):
        return text
    if response.get("HX-Request") or "<html" not in text:
        return text  # a fragment: its page carries the policy
    policy = response.get("Content-Security-Policy", "")
    assert "script-src 'self' 'nonce-" in policy, f"{what}: CSP {policy!r}"
    assert "unsafe-inline" not in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    for tag in re.findall(r"<script\b[^>]*>", text, re.I):
        assert "src=" in tag or f'nonce="{nonce}"' in tag, f"{what}: inline script {tag}"
    for tag in re.findall(r"<[a-z][^>]*>", text, re.I):
        bare = re.sub(r'"[^"]*"|\'[^\']*\'', '""', tag)  # attribute values aside
        assert not re.search(r"\son[a-z]+\s*=", bare, re.I), f"{what}: inline handler in {tag}"
    return text


def _django_escape(value: str) -> str:
    from django.utils.html import escape

    return str(escape(value))


@pytest.fixture
def hostile_world(upstreams, apps, alice, settings, staff, watch):
    settings.CONNECT_TOKEN_RATE_LIMIT = (100, 60)
    watch.secret("the claim's store secret", "store-secret-hostile-9c1e")
    member = Client()
    member.force_login(alice)
    ids = {}
    for name, payload in PAYLOADS.items():
        ids[name] = connect_through_the_hosted_page(member, "github", payload)
    assert ConnectedAccount.objects.filter(member=alice).count() == len(PAYLOADS)

    # The upstream turns hostile: errors and profiles set on the sandbox's control page.
    control = Client()
    control.force_login(staff)
    names = list(PAYLOADS.values())
    for number, account_id in enumerate(ids.values()):
        upstream = SandboxAccount.objects.get(account_id=account_id)
        if number % 2:
            response = control.post(
                f"/sandbox/accounts/{upstream.pk}/health",
                {"state": "unhealthy", "error": names[number]},
            )
            assert response.status_code == 302
        response = control.post(
            f"/sandbox/accounts/{upstream.pk}/profile",
            {"profile": json.dumps({"login": names[number]})},
        )
        assert response.status_code == 302
    # The sync reads them back over HTTP.
    from django.core.management import call_command

    call_command("sync_accounts", user="alice", verbosity=0)

    # A hostile app in the catalogue (as sync_apps records Pipedream's answer).
    connections_services.app_upsert_from_pipedream(
        data={
            **catalogue.get_catalogue_app("slack"),
            "name": PAYLOADS["attribute"],
            "img_src": "javascript:alert(1)",
            "description": PAYLOADS["script"],
        },
        enabled=True,
    )

    # A claim reading the GitHub login: the value seen is each hostile login. Its
    # requirements (the hostile app's among them) say what they are in hostile words.
    claim = Claim(
        slug="hostile",
        name=PAYLOADS["script"],
        description=PAYLOADS["attribute"],
        enabled=True,
        delivery="dynamic_store",
        store_id="s",
    )
    claim.set_store_secret("store-secret-hostile-9c1e")
    claim.full_clean()
    claim.save()
    require(claim, apps["github"])
    [hostile_app] = require(claim, App.objects.get(slug="slack"))
    hostile_app.text = PAYLOADS["single quote"]
    check = add_check(
        claim,
        apps["github"],
        proxy_url="https://api.github.com/user",
        path="login",
        comparison="eq",
        value=PAYLOADS["template"] + "-nobody",
    )
    for requirement in (hostile_app, check):
        requirement.full_clean()
        requirement.save()
    # The sandbox's connection webhooks are in flight: let them land first.
    sandbox_webhooks.wait_for_deliveries()
    assert member.post(f"/claims/{claim.slug}/check/").status_code == 302
    run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state in ("ineligible", "failed", "waiting"), completion.state
    return {"member": member, "staff": control, "claim": claim, "alice": alice}


def test_hostile_strings_are_escaped_everywhere(hostile_world):
    """One world (it takes a while to build), two walks: member pages, then the admin."""
    member_pages(hostile_world)
    admin_views(hostile_world)


def member_pages(hostile_world):
    member, claim = hostile_world["member"], hostile_world["claim"]
    names = list(PAYLOADS.values())
    pages = {
        "/accounts/": names,
        "/claims/": [],
        "/profile/": [],
        "/email/": [],
        f"/c/{claim.slug}/": [PAYLOADS["script"]],
        "/": [],
    }
    for path, shown in pages.items():
        html_checks(member.get(path), path, shown=[s.strip() for s in shown])
        html_checks(member.get(path, HTTP_HX_REQUEST="true"), f"htmx {path}")
    for account in ConnectedAccount.objects.filter(member=hostile_world["alice"]):
        path = f"/accounts/{account.pk}/disconnect/"
        html_checks(member.get(path), path, shown=[account.name])
        html_checks(member.get(path, HTTP_HX_REQUEST="true"), f"htmx {path}")
    # The landing page as a visitor.
    html_checks(Client().get(f"/c/{claim.slug}/"), "anonymous landing")
    # The evidence kept for the member holds the hostile logins, escaped on the page.
    completion = Completion.objects.get(claim=claim)
    evidence = str(completion.evidence) + completion.reason
    assert any(payload[:20] in evidence for payload in names), evidence[:500]


def admin_views(hostile_world):
    staff = hostile_world["staff"]
    seen = 0
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        changelist = reverse(f"{prefix}_changelist")
        # follow: a one-row model's list (the brand) opens its one page.
        html_checks(staff.get(changelist, follow=True), changelist)
        search = staff.get(changelist, {"q": PAYLOADS["attribute"]}, follow=True)
        html_checks(search, f"{changelist} search")
        for pk in model._default_manager.order_by("-pk").values_list("pk", flat=True)[:6]:
            change = reverse(f"{prefix}_change", args=[pk])
            html_checks(staff.get(change), change)
            seen += 1
    assert seen > 20
    accounts = staff.get(reverse("admin:connections_connectedaccount_changelist"))
    html_checks(accounts, "accounts changelist", shown=[PAYLOADS["script"]])


@pytest.mark.django_db(transaction=True)
def test_hostile_upstream_error_messages_are_escaped(upstreams, apps, alice, settings):
    """Pipedream refusing a token with a hostile error: the member's message escapes it."""
    member = Client()
    member.force_login(alice)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(f"{upstreams.url}/sandbox/pipedream/v1/oauth")
        mock.add(
            responses.POST,
            re.compile(r".*/v1/connect/[^/]+/tokens$"),
            json={"error": PAYLOADS["attribute"] + PAYLOADS["script"]},
            status=400,
        )
        response = member.get("/connect/github/", follow=True)
    html_checks(response, "connect refused")
    token = member.post("/connect/token/", {"app": "github"})
    assert token.status_code in (200, 400, 502, 503)


# NUL cannot be stored by the sandbox on PostgreSQL either, so this upstream answer is
# made with `responses`: the sandbox's own account JSON, with NULs in the name and error.
NUL_NAME = "nul\x00name<script>alert(1)</script>"
NUL_ERROR = "refresh failed\x00<b>bold</b>"


def test_nul_characters_from_upstream_are_stored_and_escaped(upstreams, apps, alice, connect):
    from django.core.management import call_command

    from sandbox.pipedream import services as sandbox_services

    account = connect(alice, "github", "plain-name")
    upstream = SandboxAccount.objects.get(account_id=account.pipedream_id)
    data = sandbox_services.account_json(upstream, base_url=upstreams.url)
    data.update(name=NUL_NAME, healthy=False, error=NUL_ERROR)
    answer = {
        "data": [data],
        "page_info": {"count": 1, "total_count": 1, "start_cursor": None, "end_cursor": None},
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(f"{upstreams.url}/sandbox/pipedream/v1/oauth")
        mock.add(responses.GET, re.compile(r".*/v1/connect/[^/]+/accounts(\?.*)?$"), json=answer)
        call_command("sync_accounts", user="alice", verbosity=0)
        member = Client()
        member.force_login(alice)
        page = member.get("/accounts/")
    html_checks(page, "/accounts/ with NULs")
    account.refresh_from_db()
    assert "\x00" not in account.name and "name" in account.name
    assert "&lt;script&gt;" in page.content.decode()


@pytest.mark.parametrize("delivery", ["dynamic_store", "bitbadges"])
def test_hostile_bitbadges_error_text_is_escaped(upstreams, apps, alice, staff, delivery):
    """BitBadges refusing with a hostile errorMessage: the reason the member and the
    admin read is escaped."""
    claim = Claim(
        slug="bb-error",
        name="BitBadges error",
        enabled=True,
        delivery=delivery,
        store_id="store-x" if delivery == "dynamic_store" else "",
        bitbadges_claim_id="claim-x" if delivery == "bitbadges" else "",
        password_instance_id="pwd" if delivery == "bitbadges" else "",
    )
    claim.set_store_secret("store-secret-bb-error-attack")
    claim.set_password("claim-password-bb-error-attack")
    claim.full_clean()
    claim.save()
    # Alice meets its one requirement, so the check goes on to BitBadges.
    require(claim, apps["github"])
    ConnectedAccount.objects.create(member=alice, app=apps["github"], pipedream_id="apn_alice")
    member = Client()
    member.force_login(alice)
    said = PAYLOADS["attribute"] + " " + PAYLOADS["script"]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in (responses.GET, responses.POST):
            mock.add(
                method,
                re.compile(r".*/sandbox/bitbadges/.*"),
                json={"errorMessage": said, "error": said},
                status=400,
            )
        assert member.post(f"/claims/{claim.slug}/check/").status_code == 302
        run_worker()
    completion = Completion.objects.get(claim=claim, member=alice)
    assert completion.state not in ("completed", "waiting"), completion.state
    rendered = []
    for path in ("/claims/", f"/c/{claim.slug}/"):
        rendered.append(html_checks(member.get(path), path))
        rendered.append(html_checks(member.get(path, HTTP_HX_REQUEST="true"), f"htmx {path}"))
    admin_client = Client()
    admin_client.force_login(staff)
    for path in (
        f"/admin/claims/completion/{completion.pk}/change/",
        "/admin/claims/completion/",
        "/admin/claims/completionevent/",
        f"/admin/claims/claim/{claim.pk}/change/",
    ):
        rendered.append(html_checks(admin_client.get(path), path))
    # The upstream's words were shown somewhere (to the admin at least), escaped.
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in text for text in rendered)
