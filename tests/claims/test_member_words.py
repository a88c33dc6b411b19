"""No member page or email shows a developer string (issue 20, item 1).

Members in many states, reached through the real engine against the sandbox (over HTTP,
with the task worker): new, not yet with a number seen, a check upstream cannot answer,
a must-not check met, an account gone dead, earned then disconnected, delivery being
retried, taken back by the organiser. Every member page they can open is rendered, and
every email the site sends them; none may show a field path, an operator symbol, "seen:",
"$status", an HTTP status, a traceback or None (tests/claims/words_support.py).
"""

import pytest
from django.core import mail
from django.core.management import call_command

from claims.models import Claim, Completion, Requirement
from connections import services as connections_services
from connections.models import App, ConnectSession
from sandbox.pipedream.catalogue import DEMO_STARRED_REPO
from tests.claims.admin_support import form_errors, post_new_claim
from tests.claims.member_states_support import (
    PASSWORD,
    member_paths,
    seed_claims,
    seed_members,
)
from tests.claims.words_support import developer_strings, page_text

# Words and translations: the database engine changes none of it (CI: one database).
pytestmark = pytest.mark.one_database


def scan(where: str, text: str, problems: list[str], *, username: str = "") -> None:
    """Add to `problems` each developer string in `text`; the reader's own username (which
    may well be snake_case) is theirs, not the site's, and is left out first."""
    if username:
        text = text.replace(username, " ")
    for found in sorted(set(developer_strings(text))):
        at = text.find(found)
        problems.append(f"{where}: {found!r} in {text[max(0, at - 60) : at + 60]!r}")


HTMX = {"HTTP_HX_REQUEST": "true"}
BAD_ADDRESS = {"address": "not an address"}


def _read(response) -> str:
    """What the member reads of an answer: a page, an htmx fragment, or the Connect
    dialog's JSON error sentence."""
    assert response.status_code < 500, response
    if response.get("Content-Type", "").startswith("application/json"):
        return str(response.json().get("error", ""))
    return page_text(response.content.decode())


def after_posts(client, person, claims) -> list[tuple[str, str]]:
    """What `person` reads after each thing they can post, followed to its page (flash
    messages included), as htmx fragments, and in the Connect dialog and its return."""
    seen = []
    for path in member_paths(claims):
        seen.append((f"htmx {path}", _read(client.get(path, **HTMX))))
    for number, claim in enumerate(claims):
        for path in (f"/claims/{claim.slug}/check/", f"/c/{claim.slug}/check/"):
            seen.append((f"POST {path}", _read(client.post(path, follow=True))))
            if number < 2:  # the same messages, out of band: two claims are enough
                seen.append((f"htmx POST {path}", _read(client.post(path, **HTMX))))
    seen.append(("bad address /claims/", _read(client.post("/claims/address/", BAD_ADDRESS))))
    seen.append(("htmx bad address", _read(client.post("/claims/address/", BAD_ADDRESS, **HTMX))))
    seen.append(
        ("bad address /c/", _read(client.post(f"/c/{claims[0].slug}/address/", BAD_ADDRESS)))
    )
    # The Connect dialog's errors: an app that does not exist, someone else's account, a
    # callback with nothing in it.
    for data in ({"app": "no-such-app"}, {"app": "github", "account": "999999"}, {}):
        seen.append((f"token {data}", _read(client.post("/connect/token/", data))))
    seen.append(("callback", _read(client.post("/connect/callback/", {}))))
    # The hosted page's return: cancelled, refused with Pipedream's words, connected.
    if person.emailaddress_set.filter(verified=True).exists():
        github = App.objects.get(slug="github")
        for query in (
            "result=error",
            "result=error&error=HTTP+400%3A+invalid+app_slug+at+data.app",
            "result=success",
        ):
            session, _ = connections_services.connect_session_start(
                member=person,
                app=github,
                mode=ConnectSession.Mode.LINK,
                return_path=f"/c/{claims[0].slug}/",
            )
            ref = connections_services.session_reference(session)
            response = client.get(f"/connect/done/?s={ref}&{query}", follow=True)
            seen.append((f"/connect/done/ {query}", _read(response)))
    return seen


@pytest.mark.django_db(transaction=True)
def test_no_member_page_or_email_shows_a_developer_string(
    apps, upstreams, connect, client, settings
):
    claims = seed_claims(apps)
    members = seed_members(connect, settings)
    states = set(Completion.objects.values_list("state", flat=True))
    assert {"completed", "ineligible", "revoked", "retrying"} <= states, states
    # The states the pages show are the ones meant: a number seen, a must-not met.
    bob_repos = Completion.objects.get(member__username="bob", claim__slug="repos")
    assert bob_repos.state == "ineligible" and ": you have " in bob_repos.reason

    problems: list[str] = []
    pages = 0
    for path in member_paths(claims):  # as a visitor
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        scan(f"anonymous {path}", page_text(response.text), problems)
    for person in members:
        client.force_login(person)
        for path in member_paths(claims):
            response = client.get(path, follow=True)
            assert response.status_code == 200, (person.username, path)
            where = f"{person.username} {path}"
            scan(where, page_text(response.text), problems, username=person.username)
            pages += 1
        for where, text in after_posts(client, person, claims):
            scan(f"{person.username} {where}", text, problems, username=person.username)
            pages += 1
        client.logout()

    # Every email the site sends members: sign-up, a second address, password resets
    # (known and unknown address), and an emailed Connect link.
    mail.outbox.clear()
    signup = {"username": "gina", "email": "gina@example.com"}
    client.post("/signup/", {**signup, "password1": PASSWORD, "password2": PASSWORD})
    client.post("/password/reset/", {"email": "alice@example.com"})
    client.post("/password/reset/", {"email": "nobody@example.com"})
    client.post("/signup/", {**signup, "username": "gina2", "password1": PASSWORD})
    client.force_login(members[0])
    client.post("/email/", {"action_add": "", "email": "alice.second@example.com"})
    call_command("connect_link", user="bob", app="github", email=True, stdout=None)
    assert len(mail.outbox) >= 4, [message.subject for message in mail.outbox]
    for message in mail.outbox:
        scan(f"email {message.subject!r}", f"{message.subject}\n{message.body}", problems)
        for body, kind in getattr(message, "alternatives", []):
            if kind == "text/html":
                scan(f"email {message.subject!r} (html)", page_text(body), problems)

    assert pages >= 6 * 5 + 6 * (len(claims) * 2 + 4)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    "text",
    [
        "Needs public_repos ≥ 5",
        "Have at least 5 public_repos on GitHub",
        "GitHub: user.public_repos at least 5",
        "You starred it (seen: 204)",
        "the upstream API answered 500",
        "$status equals 204",
        "Traceback (most recent call last)",
        "Your address: None",
    ],
)
def test_the_scan_finds_each_kind_of_developer_string(text):
    assert developer_strings(text)


def test_the_scan_lets_people_words_through():
    text = (
        "Have at least 5 public repositories: you have 3. Star bitbadges/bitbadgesjs on "
        "GitHub, e.g. at https://github.com/bitbadges/bitbadgesjs. Write to help@example.com "
        "or visit bitbadges.io. Noneless words."
    )
    assert developer_strings(text) == []


# --- The requirement's link, set in the admin -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_admin_saves_a_requirements_https_link(admin_client, upstreams, apps):
    link = f"https://github.com/{DEMO_STARRED_REPO}"
    response = post_new_claim(admin_client, apps["github"], requirement={"link": link})
    assert response.status_code == 302
    [saved] = Claim.objects.get(slug="new").requirements.all()
    assert saved.link == link and saved.snapshot()["link"] == link


@pytest.mark.django_db(transaction=True)
def test_the_admin_refuses_links_members_should_not_follow(admin_client, upstreams, apps):
    hostile = [
        "http://github.com/bitbadges/bitbadgesjs",
        "javascript:alert(1)",
        "https://user:secret@github.com/",
        "https://github.com/a b",
        "https://" + "a" * 500 + ".com/",
    ]
    for link in hostile:
        response = post_new_claim(admin_client, apps["github"], requirement={"link": link})
        assert form_errors(response).get("link"), link
    assert not Claim.objects.exists()
    assert not Requirement.objects.exists()
