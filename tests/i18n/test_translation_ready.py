"""Every string a member reads is ready for translation (issue 21, item 5).

- The committed catalogue, locale/en/LC_MESSAGES/django.po, holds exactly the messages
  `make messages` finds in the code and templates now.
- A pseudo-language, en-xa, whose catalogue wraps every message in ⟦ ⟧ (tests/i18n/
  pseudo_support.py): every member page, anonymous and as members in many states
  (tests/claims/member_states_support.py), the pages after a form is posted, the error
  pages, and every email members receive are read in it; any text a person reads outside
  the marks is a string nobody marked. What people typed (usernames, emails, account
  names, the operator's claim names and texts) is theirs and is set aside, as is text
  without a letter (numbers, punctuation).
- The language a member's browser asks for formats the dates they read.
"""

import re
from datetime import UTC, datetime

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import trans_real

from branding.selectors import brand_current as current_brand
from claims.models import Claim, Completion, Requirement
from connections.models import App, ConnectedAccount
from tests.claims.member_states_support import (
    PASSWORD,
    member,
    member_paths,
    seed_claims,
    seed_members,
)
from tests.claims.pages_support import account
from tests.i18n.pseudo_support import (
    CLOSE,
    OPEN,
    PSEUDO,
    ROOT,
    build_pseudo,
    extract,
    msgids,
    unmarked,
    unmarked_text,
)

COMMITTED = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"

# Text a member reads that is rightly not in our catalogue, each with its reason. Kept
# small: anything else outside the marks fails the test.
ALLOWED = {
    # Other services' and products' names, shown on their own (in sentences they are
    # inside the sentence's message).
    "BitBadges": "a product's name, the same in every language",
    "Pipedream": "a product's name, the same in every language",
}
# What no language translates: links, email addresses, blockchain addresses, codes.
_DATA = re.compile(
    r"https?://[^\s⟦⟧]+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b|\b0x[0-9a-fA-F]{40}\b|\bbb1[0-9a-z]{38}\b"
)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The catalogue `make messages` would write now (in a copy of the tree)."""
    return extract(tmp_path_factory.mktemp("extract"))


def test_the_committed_catalogue_is_up_to_date(extracted):
    fresh, committed = msgids(extracted), msgids(COMMITTED)
    assert len(fresh) > 100, "makemessages found almost nothing: is the extraction broken?"
    missing = sorted(fresh - committed)
    gone = sorted(committed - fresh)
    assert not missing and not gone, (
        "locale/en/LC_MESSAGES/django.po is out of date: run `make messages` and commit it."
        f"\nNot in it yet ({len(missing)}): {missing[:40]}"
        f"\nNo longer in the code ({len(gone)}): {gone[:40]}"
    )


def forget_languages() -> None:
    """Django's caches of the languages and catalogues, emptied for changed settings."""
    trans_real._translations = {}
    trans_real.get_languages.cache_clear()
    trans_real.translation_catalog_exists.cache_clear()


@pytest.fixture
def pseudo(extracted, tmp_path, settings):
    """The site speaks en-xa (every message wrapped in ⟦ ⟧) to browsers that ask for it."""
    build_pseudo(extracted, tmp_path / "locale")
    settings.LANGUAGES = [("en", "English"), (PSEUDO, "Pseudo")]
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    forget_languages()
    with translation.override(PSEUDO):
        assert translation.gettext("English") == f"{OPEN}English{CLOSE}"
    yield PSEUDO
    forget_languages()


def known_data() -> list[str]:
    """What people typed or other services named, found on pages as it is."""
    brand = current_brand()
    values = [brand.name, brand.support_email, django_settings.BRAND_NAME, *ALLOWED]
    for user in get_user_model().objects.all():
        values += [user.username, user.email, getattr(user, "address", "")]
    values += EmailAddress.objects.values_list("email", flat=True)
    values += ConnectedAccount.objects.values_list("name", flat=True)
    for app in App.objects.all():
        values += [app.name, app.description]
    for claim in Claim.objects.all():
        values += [claim.name, claim.description, claim.bitbadges_name]
    for requirement in Requirement.objects.all():
        values += [requirement.text, requirement.link]
    values += Completion.objects.values_list("address", flat=True)
    return [value for value in values if value]


def problems_in(where: str, markup: str, problems: list[str]) -> None:
    for text in unmarked(_DATA.sub(" ", markup), known_data()):
        problems.append(f"{where}: {text}")


ANONYMOUS_PATHS = [
    "/login/",
    "/signup/",
    "/password/reset/",
    "/password/reset/done/",
    "/password/reset/key/1-nothing/",
    "/confirm-email/nothing/",
    "/no-such-page/",
]
MEMBER_PATHS = ["/2fa/", "/password/change/", "/profile/delete/", "/logout/"]


@pytest.mark.django_db(transaction=True)
def test_every_member_page_and_email_is_marked_for_translation(
    pseudo, apps, upstreams, connect, client, settings
):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = pseudo
    mail.outbox.clear()
    with translation.override(pseudo):  # the emails the engine sends meanwhile
        claims = seed_claims(apps)
        members = seed_members(connect, settings)
    problems: list[str] = []
    pages = 0
    paths = member_paths(claims)
    for path in paths + ANONYMOUS_PATHS:
        response = client.get(path, follow=True)
        assert response.status_code in {200, 404}, (path, response.status_code)
        problems_in(f"anonymous {path}", response.text, problems)
        pages += 1
    for person in members:
        client.force_login(person)
        for path in paths + (MEMBER_PATHS if person is members[0] else []):
            response = client.get(path, follow=True)
            assert response.status_code == 200, (person.username, path)
            problems_in(f"{person.username} {path}", response.text, problems)
            pages += 1
        # What a post answers: a claim checked now, a wrong address (flash messages).
        for path in (f"/claims/{claims[0].slug}/check/", f"/c/{claims[1].slug}/check/"):
            response = client.post(path, follow=True)
            problems_in(f"{person.username} POST {path}", response.text, problems)
        response = client.post("/claims/address/", {"address": "not an address"}, follow=True)
        problems_in(f"{person.username} POST /claims/address/", response.text, problems)
        client.logout()

    # The emails: sign-up, an account that already exists, password resets (known and
    # unknown address), a second address, an emailed Connect link, and any the engine
    # sent while the members above were seeded.
    signup = {"username": "gina", "email": "gina@example.com"}
    client.post("/signup/", {**signup, "password1": PASSWORD, "password2": PASSWORD})
    client.post("/signup/", {**signup, "username": "gina2", "password1": PASSWORD})
    client.post("/password/reset/", {"email": "alice@example.com"})
    client.post("/password/reset/", {"email": "nobody@example.com"})
    client.force_login(members[0])
    client.post("/email/", {"action_add": "", "email": "alice.second@example.com"})
    with translation.override(pseudo):
        call_command("connect_link", user="bob", app="github", email=True, stdout=None)
    assert len(mail.outbox) >= 5, [message.subject for message in mail.outbox]
    known = known_data()
    for message in mail.outbox:
        where = f"email {message.subject!r}"
        for text in unmarked_text(_DATA.sub(" ", f"{message.subject}\n{message.body}"), known):
            problems.append(f"{where}: {text}")
        for body, kind in getattr(message, "alternatives", []):
            if kind == "text/html":
                problems_in(f"{where} (html)", body, problems)

    assert pages >= len(paths) * 7
    assert not problems, f"{len(problems)} unmarked texts:\n" + "\n".join(dict.fromkeys(problems))


@pytest.mark.django_db
def test_a_member_reads_dates_in_their_browsers_language(client, settings):
    settings.LANGUAGES = [("en", "English"), ("de", "Deutsch")]
    forget_languages()
    person = member("hanna")
    github = App.objects.create(slug="github", name="GitHub", enabled=True)
    connected = account(person, github, name="hanna-gh")
    ConnectedAccount.objects.filter(pk=connected.pk).update(
        created_at=datetime(2026, 10, 6, 12, tzinfo=UTC)
    )
    client.force_login(person)
    english = client.get("/accounts/", HTTP_ACCEPT_LANGUAGE="en").text
    german = client.get("/accounts/", HTTP_ACCEPT_LANGUAGE="de").text
    assert "6 Oct 2026" in english
    assert "6 Okt 2026" in german and "Oct" not in german
    forget_languages()
