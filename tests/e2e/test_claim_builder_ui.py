"""The claim builder's frontend (static/js/claim_builder.js), in Chromium.

This tests the frontend alone: the builder's endpoints (/admin/claims/claim/builder/...)
are not called; Playwright's page.route() answers them in the browser with the JSON the
contract between them and the page describes, and records what the page asked. The rest
(the admin, the claim form, the login) is the live site's.
"""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser_support import ARTIFACTS
from tests.claims.claims_support import add_check

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BUILDER = "/admin/claims/claim/builder/"
ACTIONS = [
    {
        "key": "github-get-current-user",
        "name": "Get Current User",
        "description": "Gather a full snapshot of the authenticated GitHub actor.",
    },
    {
        "key": "github-get-repository",
        "name": "Get Repository Info",
        "description": "Get information for a specific repository.",
    },
]
REPO_FULLNAME = {
    "name": "repoFullname",
    "type": "string",
    "label": "Repository",
    "description": "The name of the repository, e.g. owner/name.",
    "optional": False,
    "default": None,
    "options": None,
    "remote": True,
    "reload": False,
    "min": None,
    "max": None,
}
PROPS = {
    "github-get-current-user": {
        "key": "github-get-current-user",
        "name": "Get Current User",
        "description": "Gather a full snapshot of the authenticated GitHub actor.",
        "props": [],
    },
    "github-get-repository": {
        "key": "github-get-repository",
        "name": "Get Repository Info",
        "description": "Get information for a specific repository.",
        "props": [REPO_FULLNAME],
    },
}
OPTIONS = [
    {"label": "octo/hello-world", "value": "octo/hello-world"},
    {"label": "octo/spoon-knife", "value": "octo/spoon-knife"},
]
ANSWER = {
    "user": {"login": "octo<b>cat</b>", "public_repos": 5, "site_admin": False, "bio": None},
    "orgs": [{"login": "acme"}, {"login": "umbrella"}],
    "teams": [],
}


class Endpoints:
    """The builder's endpoints as the page sees them: the contract's answers, or the
    ones a test sets in `answers` (path -> (status, JSON) or "abort" for a network
    failure), and each request the page made, in `calls`."""

    def __init__(self, page):
        self.calls = []
        self.answers = {}
        self.polls = 0
        page.route(f"**{BUILDER}**", self.handle)

    def handle(self, route, request):
        url = urlsplit(request.url)
        path = url.path.removeprefix(BUILDER)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        body = request.post_data_json if request.method == "POST" else None
        self.calls.append({"method": request.method, "path": path, "query": query, "body": body})
        self.calls[-1]["csrf"] = request.headers.get("x-csrftoken", "")
        answer = self.answers.get(path) or self.contract(path, query)
        if answer == "abort":
            route.abort()
            return
        status, data = answer
        route.fulfill(status=status, content_type="application/json", body=json.dumps(data))

    def contract(self, path, query):
        if path == "actions/":
            if query.get("app") != "github":
                return 400, {"problem": "No such app."}
            return 200, {"actions": ACTIONS}
        if path == "props/":
            return 200, PROPS[query["action"]]
        if path == "options/":
            return 200, {"options": OPTIONS, "account": "site"}
        if path == "try/":
            return 202, {"job": 7, "status_url": f"{BUILDER}try/7/"}
        if path == "try/7/":
            self.polls += 1
            if self.polls == 1:
                return 200, {"state": "running", "result": None, "error": ""}
            return 200, {"state": "done", "result": ANSWER, "error": ""}
        if path == "members/":
            return 200, {"members": [{"username": "ada", "label": "ada (ada@example.com)"}]}
        return 404, {"problem": "Not found."}

    def made(self, path):
        return [call for call in self.calls if call["path"] == path]


def open_as_admin(browser, site, path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    endpoints = Endpoints(page)
    page.goto(f"{site.url}/login/?next={path}")
    page.fill("#id_login", "admin")
    page.fill("#id_password", "password")
    page.click("form:has(#id_password) button[type=submit]")
    page.wait_for_url(f"{site.url}{path}")
    return context, page, endpoints


@pytest.fixture
def builder(site, browser, admin_user, apps):
    context, page, endpoints = open_as_admin(browser, site, "/admin/claims/claim/add/")
    yield page, endpoints, page.locator("#requirements-0")
    context.close()


def choose_action(holder, key):
    holder.locator("select[name='requirements-0-kind']").select_option("action")
    holder.locator("select[name='requirements-0-app']").select_option(label="GitHub")
    holder.locator("select.cb-action").select_option(value=None, label=_label(key))


def _label(key):
    return next(f"{a['name']} ({a['key']})" for a in ACTIONS if a["key"] == key)


def shoot(page, holder, name):
    """A 1280 px wide screenshot of the requirement, from its kind down, for people."""
    ARTIFACTS.mkdir(exist_ok=True)
    top = holder.locator(".form-row.field-kind").evaluate(
        "row => row.getBoundingClientRect().top + window.scrollY"
    )
    bottom = holder.evaluate("row => row.getBoundingClientRect().bottom + window.scrollY")
    page.screenshot(
        path=str(ARTIFACTS / f"{name}.png"),
        full_page=True,
        clip={"x": 0, "y": top, "width": 1280, "height": bottom - top},
    )


def props_json(holder):
    return json.loads(holder.locator("textarea[name='requirements-0-props']").input_value())


def test_the_apps_actions_and_a_form_for_their_props(builder):
    page, endpoints, holder = builder
    holder.locator("select[name='requirements-0-kind']").select_option("action")
    holder.locator("select[name='requirements-0-app']").select_option(label="GitHub")
    actions = holder.locator("select.cb-action")
    expect(actions.locator("option")).to_have_text(
        ["Choose an action", *[_label(a["key"]) for a in ACTIONS]]
    )
    assert endpoints.made("actions/")[-1]["query"] == {"app": "github"}
    # The raw fields give way to the builder, and come back on demand.
    expect(holder.locator(".form-row.field-props")).to_be_hidden()
    holder.get_by_role("button", name="Show raw fields").click()
    expect(holder.locator(".form-row.field-props")).to_be_visible()
    holder.get_by_role("button", name="Hide raw fields").click()
    expect(holder.locator(".form-row.field-action")).to_be_hidden()

    actions.select_option(label=_label("github-get-current-user"))
    expect(holder.locator("input[name='requirements-0-action']")).to_have_value(
        "github-get-current-user"
    )
    expect(holder.get_by_text("This action needs nothing else")).to_be_visible()
    expect(holder.locator(".cb-props [data-prop]")).to_have_count(0)
    assert props_json(holder) == {}

    actions.select_option(label=_label("github-get-repository"))
    expect(holder.locator("input[name='requirements-0-action']")).to_have_value(
        "github-get-repository"
    )
    repository = holder.get_by_label("Repository", exact=True)
    expect(repository).to_have_attribute("data-prop", "repoFullname")
    expect(holder.get_by_text("Get information for a specific repository.")).to_be_visible()
    holder.get_by_label("Search", exact=True).fill("octo")
    holder.get_by_role("button", name="Load options").click()
    expect(repository.locator("option")).to_have_text(
        ["Choose…", "octo/hello-world", "octo/spoon-knife"]
    )
    asked = endpoints.made("options/")[-1]
    assert asked["body"] == {
        "action": "github-get-repository",
        "app": "github",
        "prop": "repoFullname",
        "props": {},
        "member": "",
        "query": "octo",
    }
    assert asked["csrf"]
    repository.select_option(label="octo/spoon-knife")
    assert props_json(holder) == {"repoFullname": "octo/spoon-knife"}
    expect(holder.get_by_role("status").first).to_contain_text("from the site's account")
    shoot(page, holder, "claim-builder-props")


def test_a_stored_requirement_shows_its_props_filled_in(
    site, browser, admin_user, apps, make_claim
):
    claim = make_claim("builder-stored", apps=[])
    add_check(
        claim,
        apps["github"],
        action="github-get-repository",
        props={"repoFullname": "octo/hello-world", "extra": 1},
        path="repo.stargazers_count",
        comparison="gte",
        value="1",
    )
    context, page, _ = open_as_admin(browser, site, f"/admin/claims/claim/{claim.pk}/change/")
    try:
        holder = page.locator("#requirements-0")
        expect(holder.locator("select.cb-action option:checked")).to_have_text(
            _label("github-get-repository")
        )
        repository = holder.get_by_label("Repository", exact=True)
        expect(repository.locator("option:checked")).to_have_text("octo/hello-world (current)")
        # Another prop's change keeps what the form does not show.
        holder.get_by_role("button", name="Load options").click()
        expect(repository.locator("option:checked")).to_have_text("octo/hello-world")
        repository.select_option(label="octo/spoon-knife")
        assert props_json(holder) == {"repoFullname": "octo/spoon-knife", "extra": 1}
    finally:
        context.close()


def test_try_it_shows_the_answer_and_a_value_sets_the_check(builder):
    page, endpoints, holder = builder
    choose_action(holder, "github-get-current-user")
    expect(holder.locator(".cb-props .cb-none")).to_be_visible()
    member = holder.get_by_label("Member", exact=True)
    member.fill("ad")
    expect(holder.locator("datalist option")).to_have_attribute("value", "ada")
    member.fill("ada")
    holder.get_by_role("button", name="Try it").click()
    expect(holder.get_by_text("Running…")).to_be_visible()
    tree = holder.get_by_role("list", name="The answer")
    expect(tree).to_be_visible()
    assert endpoints.made("try/")[-1]["body"] == {
        "claim": None,
        "requirement": {
            "app": int(holder.locator("select[name='requirements-0-app']").input_value()),
            "kind": "action",
            "action": "github-get-current-user",
            "props": {},
            "proxy_url": "",
        },
        "member": "ada",
    }
    assert len(endpoints.made("try/7/")) == 2
    # A member's value is text, never markup.
    expect(tree.get_by_role("button", name="user.login")).to_have_text('"octo<b>cat</b>"')
    expect(tree.locator("b")).to_have_count(0)

    comparison = holder.locator("select[name='requirements-0-comparison']")
    text = holder.locator("input[name='requirements-0-text']")
    repos = tree.get_by_role("button", name="user.public_repos = 5")
    repos.focus()
    page.keyboard.press("Enter")  # the tree is keyboard operable
    expect(holder.locator("input[name='requirements-0-path']")).to_have_value("user.public_repos")
    expect(comparison).to_have_value("gte")
    expect(comparison.locator("option")).to_have_text(
        ["is at least", "is greater than", "equals", "does not equal", "is at most", "is less than"]
    )
    expect(holder.locator("input[name='requirements-0-value']")).to_have_value("5")
    expect(text).to_have_value("Have at least 5 public repos")
    comparison.select_option("lt")
    expect(text).to_have_value("Have fewer than 5 public repos")

    tree.get_by_role("button", name="user.site_admin").click()
    expect(comparison).to_have_value("truthy")
    expect(comparison.locator("option")).to_have_text(["is true (present, non-empty)", "equals"])
    expect(holder.locator("input[name='requirements-0-value']")).to_have_value("")
    expect(text).to_have_value("Site admin")
    tree.get_by_role("button", name="orgs.1.login").click()
    expect(holder.locator("input[name='requirements-0-path']")).to_have_value("orgs.1.login")
    expect(text).to_have_value("Login is umbrella")
    shoot(page, holder, "claim-builder-tree")

    # A sentence of the operator's own stays theirs.
    text.fill("Have a few public repositories")
    repos.click()
    expect(comparison).to_have_value("gte")
    expect(text).to_have_value("Have a few public repositories")


def test_the_endpoints_problems_show_as_sentences(builder):
    page, endpoints, holder = builder
    endpoints.answers["props/"] = (
        403,
        {"problem": "github-get-repository is not in the operator's allowlist."},
    )
    choose_action(holder, "github-get-repository")
    expect(holder.locator(".cb-builder .cb-problem")).to_have_text(
        "github-get-repository is not in the operator's allowlist."
    )
    expect(holder.locator("select.cb-action")).to_have_attribute("aria-invalid", "true")
    expect(holder.locator(".cb-props .cb-none")).to_have_count(0)  # its props are not known

    endpoints.answers["try/"] = (400, {"problem": "ada has no healthy GitHub account."})
    holder.get_by_label("Member", exact=True).fill("ada")
    holder.get_by_role("button", name="Try it").click()
    problem = holder.locator(".cb-try-problem")
    expect(problem).to_have_text("ada has no healthy GitHub account.")
    endpoints.answers["try/"] = "abort"
    holder.get_by_role("button", name="Try it").click()
    expect(problem).to_have_text("Could not reach the server: try again.")
    shoot(page, holder, "claim-builder-problems")

    endpoints.answers["try/"] = None
    endpoints.answers["try/7/"] = (
        200,
        {"state": "failed", "result": None, "error": "GitHub said 401."},
    )
    holder.get_by_role("button", name="Try it").click()
    expect(problem).to_have_text("GitHub said 401.")
    expect(holder.get_by_role("list", name="The answer")).to_have_count(0)
