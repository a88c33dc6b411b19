"""A claim's requirements combined with all / any / none, evaluated on real rows against
the Pipedream sandbox over HTTP; what Requirement.clean refuses; and the migration that
turned a claim's required apps and criterion into requirements (claims 0013), both ways.
"""

import base64
import re

import pytest
import responses
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from claims import services
from claims.audit import Actor
from claims.engine.evaluation import evaluate
from claims.models import Claim, Completion, Requirement
from sandbox.pipedream.catalogue import DEMO_STARRED_REPO
from tests.claims.admin_support import form_errors, make_member, post_new_claim
from tests.claims.claims_support import add_check, require

pytestmark = pytest.mark.django_db(transaction=True)

USER_URL = "https://api.github.com/user"
STAR_URL = f"https://api.github.com/user/starred/{DEMO_STARRED_REPO}"  # 204 when starred
NOT_CHECKED = "Checked once the requirements above are met."


@pytest.fixture
def proxied(upstreams):
    """The upstream URLs read through the Pipedream sandbox's proxy, in order: every
    request still reaches the sandbox over HTTP."""
    proxy = re.compile(rf"^{re.escape(upstreams.url)}/sandbox/pipedream/v1/connect/[^/]+/proxy/")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.PassthroughResponse(responses.GET, proxy))
        mock.add_passthru(upstreams.url)

        def urls() -> list[str]:
            found = []
            for call in mock.calls:
                if proxy.match(call.request.url):
                    url_64 = call.request.url.split("/proxy/", 1)[1].split("?", 1)[0]
                    found.append(base64.urlsafe_b64decode(url_64).decode())
            return found

        yield urls


def result_of(evaluation, requirement) -> dict:
    return next(r.as_json() for r in evaluation.results if r.rule == requirement.rule_key)


def outcomes(evaluation) -> list[tuple[str, str, bool | None]]:
    return [(o.label, o.group, o.passed) for o in evaluation.outcomes]


# --- all + any: a GitHub account, and a Discord or a Slack one ----------------------------


@pytest.mark.parametrize(
    ("connected", "eligible", "reason"),
    [
        (["github", "slack"], True, ""),
        (["github", "discord"], True, ""),
        (
            ["github"],
            False,
            "Meet one of these: Connect a working Discord account; Connect a working Slack account.",
        ),
        (["slack"], False, "Connect your GitHub account."),
    ],
)
def test_all_and_any_need_every_all_and_one_of_any(
    make_claim, apps, alice, connect, connected, eligible, reason
):
    claim = make_claim("github-and-chat", apps=[apps["github"]])
    require(claim, apps["discord"], apps["slack"], group="any")
    for slug in connected:
        connect(alice, slug, f"alice-{slug}")

    evaluation = evaluate(claim, alice)
    assert evaluation.eligible is eligible
    assert evaluation.reason == reason
    chat = [passed for _, group, passed in outcomes(evaluation) if group == "any"]
    assert chat == [slug in connected for slug in ("discord", "slack")]


# --- none: a check the member must not meet -----------------------------------------------


@pytest.mark.parametrize(("account", "eligible"), [("octo-pro", False), ("octo", True)])
def test_a_none_check_refuses_the_members_who_meet_it(
    make_claim, apps, alice, connect, account, eligible
):
    claim = make_claim("newcomers", apps=[apps["github"]])
    veteran = add_check(
        claim,
        apps["github"],
        action="github-get-current-user",
        path="user.public_repos",
        comparison="gte",
        value="20",
        group="none",
    )
    veteran.full_clean()
    connect(alice, "github", account)  # "pro" accounts have 25 to 80 public repos, others 1 to 3

    evaluation = evaluate(claim, alice)
    assert evaluation.eligible is eligible
    seen = result_of(evaluation, veteran)
    assert seen["label"] == "Not for members who have at least 20 public repos on GitHub"
    assert seen["passed"] is eligible
    assert (int(seen["value"]) >= 20) is not eligible
    assert outcomes(evaluation)[-1] == (
        "Must not: user.public_repos ≥ 20",  # what staff read in a dry run
        "none",
        eligible,
    )
    if not eligible:
        assert evaluation.unmet()[0].rule == veteran.rule_key


# --- all: in order, stopping at the first unmet -------------------------------------------


def test_all_checks_stop_at_the_first_unmet_and_call_nothing_more(
    make_claim, apps, alice, connect, proxied
):
    claim = make_claim("builders")
    many = add_check(
        claim, apps["github"], proxy_url=USER_URL, path="public_repos", comparison="gte", value="20"
    )
    starred = add_check(
        claim, apps["github"], proxy_url=STAR_URL, path="$status", comparison="eq", value="204"
    )
    connect(alice, "github", "octo")  # 1 to 3 public repos

    evaluation = evaluate(claim, alice)
    assert evaluation.eligible is False
    assert result_of(evaluation, many)["passed"] is False
    second = result_of(evaluation, starred)
    assert (second["passed"], second["value"], second["detail"]) == (
        False,
        "(not checked)",
        NOT_CHECKED,
    )
    assert proxied() == [USER_URL]  # one call: the second check was never sent
    assert [o.passed for o in evaluation.outcomes] == [False, None]
    assert evaluation.reason.startswith("Have at least 20 public repos on GitHub: you have ")


def test_all_checks_that_are_met_each_run_once(make_claim, apps, alice, connect, proxied):
    claim = make_claim("builders")
    many = add_check(
        claim, apps["github"], proxy_url=USER_URL, path="public_repos", comparison="gte", value="20"
    )
    starred = add_check(
        claim, apps["github"], proxy_url=STAR_URL, path="$status", comparison="eq", value="204"
    )
    connect(alice, "github", "octo-pro")  # 25+ repos, the demo repository starred

    evaluation = evaluate(claim, alice)
    assert evaluation.eligible is True, evaluation.reason
    assert result_of(evaluation, many)["passed"] and result_of(evaluation, starred)["passed"]
    assert proxied() == [USER_URL, STAR_URL]
    assert [o.passed for o in evaluation.outcomes] == [True, True]


# --- any: in order, stopping at the first met ---------------------------------------------


def test_any_checks_stop_at_the_first_met(make_claim, apps, alice, connect, proxied):
    claim = make_claim("builders-or-members", apps=[apps["github"]])
    many = add_check(
        claim,
        apps["github"],
        proxy_url=USER_URL,
        path="public_repos",
        comparison="gte",
        value="20",
        group="any",
    )
    # Unmet for every sandbox account: asked, it would make the member ineligible.
    thousand = add_check(
        claim,
        apps["github"],
        proxy_url=USER_URL,
        path="public_repos",
        comparison="gte",
        value="1000",
        group="any",
    )
    connect(alice, "github", "octo-pro")

    evaluation = evaluate(claim, alice)
    assert evaluation.eligible is True, evaluation.reason
    assert result_of(evaluation, many)["passed"] is True
    second = result_of(evaluation, thousand)
    assert second["value"] == "(not checked)"
    assert second["detail"] == "Not needed: another of these is met."
    assert proxied() == [USER_URL]
    assert [o.passed for o in evaluation.outcomes] == [True, True, None]


def test_any_checks_go_on_until_one_is_met(make_claim, apps, alice, connect, proxied):
    claim = make_claim("builders-or-members", apps=[apps["github"]])
    many = add_check(
        claim,
        apps["github"],
        proxy_url=USER_URL,
        path="public_repos",
        comparison="gte",
        value="20",
        group="any",
    )
    starred = add_check(
        claim,
        apps["github"],
        proxy_url=STAR_URL,
        path="$status",
        comparison="eq",
        value="204",
        group="any",
    )
    connect(alice, "github", "octo")  # few repos, nothing starred

    evaluation = evaluate(claim, alice)
    assert evaluation.eligible is False
    assert result_of(evaluation, many)["passed"] is False
    assert result_of(evaluation, starred)["passed"] is False
    assert proxied() == [USER_URL, STAR_URL]  # both were asked
    assert [o.passed for o in evaluation.outcomes] == [True, False, False]
    assert evaluation.reason.startswith(
        "Meet one of these: Have at least 20 public repos on GitHub; Star "
    )


# --- outcomes: one per requirement, in order ----------------------------------------------


def test_outcomes_say_per_requirement_whether_it_is_met(make_claim, apps, alice, connect):
    claim = make_claim("mixed", apps=[apps["github"]])
    require(claim, apps["discord"], apps["slack"], group="any")
    add_check(
        claim,
        apps["github"],
        proxy_url=USER_URL,
        path="public_repos",
        comparison="gte",
        value="20",
        group="none",
        text="Have 20 public repositories or more",
    )
    connect(alice, "github", "octo")
    connect(alice, "slack", "alice-slack")

    evaluation = evaluate(claim, alice)
    assert evaluation.eligible is True, evaluation.reason
    assert [o.requirement_id for o in evaluation.outcomes] == list(
        claim.requirements.values_list("pk", flat=True)
    )
    assert outcomes(evaluation) == [
        ("A healthy GitHub account", "all", True),
        ("A healthy Discord account", "any", False),
        ("A healthy Slack account", "any", True),
        ("Must not: Have 20 public repositories or more", "none", True),
    ]


# --- Requirement.clean ---------------------------------------------------------------------


def clean_errors(requirement: Requirement) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        requirement.clean()
    return caught.value.message_dict


def test_none_is_refused_for_an_account_requirement(apps):
    errors = clean_errors(Requirement(app=apps["github"], group="none"))
    assert list(errors) == ["group"]
    assert "a member could always disconnect an account to pass it" in errors["group"][0]


def test_an_action_check_needs_its_action(apps):
    check = Requirement(app=apps["github"], kind="action", path="login", comparison="truthy")
    assert clean_errors(check) == {"action": ["Choose the Pipedream action to run."]}
    check.action = "github-get-current-user"
    check.clean()


def test_a_proxy_url_off_the_apps_allowed_domains_is_refused(apps):
    check = Requirement(
        app=apps["github"],
        kind="proxy",
        proxy_url="https://api.evil.example/user",
        path="login",
        comparison="truthy",
    )
    errors = clean_errors(check)
    assert list(errors) == ["proxy_url"]
    assert "does not call api.evil.example with a GitHub account" in errors["proxy_url"][0]
    check.proxy_url = USER_URL
    check.clean()


def test_a_proxy_url_off_the_operators_hosts_is_refused(apps, settings):
    settings.CLAIMS_PROXY_HOSTS = ["example.org"]
    check = Requirement(
        app=apps["github"], kind="proxy", proxy_url=USER_URL, path="login", comparison="truthy"
    )
    errors = clean_errors(check)
    assert list(errors) == ["proxy_url"]
    assert "api.github.com is not among the hosts" in errors["proxy_url"][0]


@pytest.mark.parametrize("group", ["any", "none"])
def test_only_an_all_check_names_the_identity(apps, group):
    check = Requirement(
        app=apps["github"],
        kind="proxy",
        proxy_url=USER_URL,
        path="login",
        comparison="truthy",
        identity_path="login",
        group=group,
    )
    assert clean_errors(check) == {
        "identity_path": ["Only a requirement every member must meet names the identity."]
    }
    check.group = "all"
    check.clean()


# --- The migration: required apps and a criterion become requirements, and back ------------

BEFORE = [("claims", "0012_delivery_retention")]
AFTER = [("claims", "0013_requirements")]


def _migrate(targets) -> None:
    MigrationExecutor(connection).migrate(targets)


def _models(targets):
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.fixture
def before_requirements():
    """The database as it was before claims 0013; migrated to the latest state after."""
    _migrate(BEFORE)
    yield _models(BEFORE)
    _migrate(BEFORE)
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_the_migration_carries_apps_and_criterion_over_and_back(before_requirements):
    old = before_requirements
    App, Claim = old.get_model("connections", "App"), old.get_model("claims", "Claim")
    github = App.objects.create(slug="github", name="GitHub", order=0)
    discord = App.objects.create(slug="discord", name="Discord", order=1)
    criterion = {
        "criterion_app": github,
        "criterion_proxy_url": USER_URL,
        "criterion_path": "public_repos",
        "criterion_comparison": "gte",
        "criterion_value": "5",
        "criterion_text": "Have 5 public repositories",
        "identity_path": "login",
    }
    claim = Claim.objects.create(
        slug="builders", name="Builders", delivery="dynamic_store", store_id="s", **criterion
    )
    claim.required_apps.set([github, discord])
    plain = Claim.objects.create(slug="plain", name="Plain", delivery="dynamic_store")
    plain.required_apps.set([discord, github])

    _migrate(AFTER)
    Requirement = _models(AFTER).get_model("claims", "Requirement")
    rows = list(
        Requirement.objects.filter(claim__slug="builders")
        .order_by("position")
        .values("app__slug", "kind", "group", "proxy_url", "path", "comparison", "value")
    )
    assert rows == [
        # The criterion's own app is not repeated: its check needs its account anyway.
        {"app__slug": "discord", "kind": "account", "group": "all", "proxy_url": "",
         "path": "", "comparison": "", "value": ""},
        {"app__slug": "github", "kind": "proxy", "group": "all", "proxy_url": USER_URL,
         "path": "public_repos", "comparison": "gte", "value": "5"},
    ]  # fmt: skip
    check = Requirement.objects.get(claim__slug="builders", kind="proxy")
    assert (check.text, check.identity_path) == ("Have 5 public repositories", "login")
    assert list(
        Requirement.objects.filter(claim__slug="plain")
        .order_by("position")
        .values_list("app__slug", "kind")
    ) == [("github", "account"), ("discord", "account")]  # in the apps' order

    _migrate(BEFORE)
    Claim = _models(BEFORE).get_model("claims", "Claim")
    back = Claim.objects.get(slug="builders")
    assert {name: getattr(back, name) for name in criterion if name != "criterion_app"} == {
        name: value for name, value in criterion.items() if name != "criterion_app"
    }
    assert back.criterion_app_id == github.pk
    assert set(back.required_apps.values_list("slug", flat=True)) == {"github", "discord"}
    plain = Claim.objects.get(slug="plain")
    assert set(plain.required_apps.values_list("slug", flat=True)) == {"github", "discord"}
    assert not plain.criterion_path


def test_going_back_stops_at_claims_the_old_shape_cannot_hold(before_requirements):
    old = before_requirements
    App, Claim = old.get_model("connections", "App"), old.get_model("claims", "Claim")
    App.objects.create(slug="github", name="GitHub", order=0)
    _migrate(AFTER)
    after = _models(AFTER)
    Claim = after.get_model("claims", "Claim")
    Requirement = after.get_model("claims", "Requirement")
    github = after.get_model("connections", "App").objects.get(slug="github")
    claim = Claim.objects.create(slug="not-admins", name="Not admins", delivery="dynamic_store")
    Requirement.objects.create(claim=claim, app=github, kind="account", group="all")
    Requirement.objects.create(
        claim=claim, app=github, kind="proxy", group="none", proxy_url=USER_URL,
        path="site_admin", comparison="truthy",
    )  # fmt: skip

    with pytest.raises(RuntimeError, match="not-admins"):
        _migrate(BEFORE)
    # Nothing went back: the claim keeps its requirements.
    assert Requirement.objects.filter(claim=claim).count() == 2
    claim.delete()  # so that the fixture can go back and forth again


# --- A claim with nothing a member must meet ----------------------------------------------


def test_a_claim_without_requirements_completes_for_nobody(make_claim, alice, apps, worker):
    claim = make_claim("empty", apps=[])
    only_none = make_claim("only-none", apps=[])
    add_check(
        only_none,
        apps["github"],
        group="none",
        proxy_url=USER_URL,
        path="login",
        comparison="truthy",
    )
    get_user_model().objects.create_user(username="someone", email="s@example.com", password=None)

    # Enabling finds nobody to queue, and a check asked for by hand fails, never delivers.
    for each in (claim, only_none):
        assert services.claim_discover(claim=each, actor=Actor.system("test")) == 0
        completion = services.completion_request(
            claim=each, member=alice, actor=Actor.member(alice)
        )
        worker()
        completion.refresh_from_db()
        assert completion.state == Completion.State.FAILED
        assert "settings need attention" in completion.reason


def test_staff_who_may_not_add_requirements_cannot_enable_a_claim_without_them(
    client, apps, upstreams
):
    staff = make_member("claimer", is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["add_claim", "change_claim", "view_claim"])
    )
    client.force_login(staff)
    refused = post_new_claim(client, apps["github"], enabled=True)
    assert "no requirements" in form_errors(refused)["enabled"]
    assert not Claim.objects.exists()
    # Disabled, it saves: someone who may add requirements finishes it.
    assert post_new_claim(client, apps["github"]).status_code == 302
    assert Claim.objects.get().requirements.count() == 0
