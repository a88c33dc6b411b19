"""Every string a member reads is ready for translation (issue 21, item 5).

- The committed catalogue, locale/en/LC_MESSAGES/django.po, holds exactly the messages
  `make messages` finds in the code and templates now.
- A pseudo-language, en-xa, whose catalogue wraps every message in ⟦ ⟧ (tests/i18n/
  pseudo_support.py): every member page, anonymous and as members in many states
  (tests/claims/member_states_support.py), the pages after a form is posted, the error
  pages, and every email members receive are read in it; any text a person reads outside
  the marks is a string nobody marked. What people typed (usernames, emails, account
  names, the operator's claim names and texts) is theirs and is set aside, as is text
  without a letter (numbers, punctuation). The members' states are reached by the engine
  and the task worker in a second pseudo-language, en-xb (⟪ ⟫), standing for the site's
  language: the emails sent meanwhile must be marked in it, and anything the engine
  stored in it that an en-xa page shows is caught too (stored text must be stored in
  English and translated when shown).
- The language a member's browser asks for formats the dates they read.
"""

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone, translation
from django.utils.translation import trans_real

from branding.selectors import brand_current as current_brand
from claims import life, wording
from claims.engine.methods import workflow
from claims.engine.staff_actions import REVOKED_REASON
from claims.models import Claim, Completion, Requirement
from connections.models import App, ConnectedAccount
from tests.claims.claims_support import require
from tests.claims.member_states_support import (
    PASSWORD,
    bitbadges_claim,
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
    SITE_MARKS,
    SITE_PSEUDO,
    build_pseudo,
    extract,
    msgids,
    unmarked,
    unmarked_text,
)

# Words and translations: the database engine changes none of it (CI: one database).
pytestmark = pytest.mark.one_database

COMMITTED = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"

# Text a member reads that is rightly not in our catalogue, each with its reason. None is
# needed so far (product names such as BitBadges are inside their sentences' messages);
# anything outside the marks fails the test.
ALLOWED: dict[str, str] = {}
# What no language translates: links, email addresses, blockchain addresses, codes.
_DATA = re.compile(
    r"https?://[^\s⟦⟧⟪⟫]+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b|\b0x[0-9a-fA-F]{40}\b|\bbb1[0-9a-z]{38}\b"
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
    """The site speaks en-xa (every message wrapped in ⟦ ⟧) to browsers that ask for it,
    and en-xb (⟪ ⟫) where it is asked to."""
    build_pseudo(extracted, tmp_path / "locale")
    build_pseudo(extracted, tmp_path / "locale", code=SITE_PSEUDO, marks=SITE_MARKS)
    settings.LANGUAGES = [("en", "English"), (PSEUDO, "Pseudo"), (SITE_PSEUDO, "Site pseudo")]
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


def stopped_claims(apps) -> list[Claim]:
    """Claims that take no deliveries now, each with its sentence (claims/life.py):
    paused on BitBadges, closed on a date, opening on a date."""
    now = timezone.now()
    paused = bitbadges_claim("paused", "Paused one")
    Claim.objects.filter(pk=paused.pk).update(life_halted=True)
    closed = bitbadges_claim("closed", "Closed one")
    Claim.objects.filter(pk=closed.pk).update(
        starts_at=now - timedelta(days=9), ends_at=now - timedelta(days=2)
    )
    later = bitbadges_claim("later", "Later one")
    Claim.objects.filter(pk=later.pk).update(starts_at=now + timedelta(days=3))
    for claim in (paused, closed, later):
        require(claim, apps["github"])
    return [paused, closed, later]


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
    "/notifications/unsubscribe/not-a-token/",
    "/connect/l/not-a-link/",
]
MEMBER_PATHS = [
    "/2fa/",
    "/password/change/",
    "/profile/delete/",
    "/profile/notifications/",
    "/connect/done/",
    "/connect/github/",
    "/logout/",
]
# Sends the member on to Pipedream's hosted page (the sandbox's here): not ours to read.
LEAVES_THE_SITE = {"/connect/github/"}
ERROR_TEMPLATES = ["403.html", "404.html", "429.html"]


@pytest.mark.django_db(transaction=True)
def test_every_member_page_and_email_is_marked_for_translation(
    pseudo, apps, upstreams, connect, client, settings
):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = pseudo
    mail.outbox.clear()
    # Emails are written in the site's language whatever the worker's is, and badges go
    # without their settle delay (notifications/sending.py, services.py).
    settings.LANGUAGE_CODE = SITE_PSEUDO
    settings.NOTIFICATIONS_BADGE_SETTLE_SECONDS = 0
    with translation.override(SITE_PSEUDO):  # the engine's and the worker's language
        claims = seed_claims(apps)
        members = seed_members(connect, settings)
        claims += stopped_claims(apps)
    by_the_engine = list(mail.outbox)
    mail.outbox.clear()
    problems: list[str] = []
    pages = 0
    paths = member_paths(claims)
    # The one-click unsubscribe page, from the List-Unsubscribe of an email the engine sent.
    unsubscribe = next(
        message.extra_headers["List-Unsubscribe"].strip("<>")
        for message in by_the_engine
        if "List-Unsubscribe" in message.extra_headers
    )
    for path in [*paths, *ANONYMOUS_PATHS, urlsplit(unsubscribe).path]:
        response = client.get(path, follow=True)
        assert response.status_code in {200, 400, 404}, (path, response.status_code)
        problems_in(f"anonymous {path}", response.text, problems)
        pages += 1
    with translation.override(pseudo):  # the error pages, as Django renders them
        for name in ERROR_TEMPLATES:
            problems_in(name, render_to_string(name, request=RequestFactory().get("/")), problems)
    for person in members:
        client.force_login(person)
        for path in paths + (MEMBER_PATHS if person is members[0] else []):
            response = client.get(path, follow=path not in LEAVES_THE_SITE)
            assert response.status_code in {200, 302, 400}, (person.username, path)
            problems_in(f"{person.username} {path}", response.text, problems)
            pages += 1
        # What a post answers: a claim checked now, a wrong address (flash messages).
        for path in (f"/claims/{claims[0].slug}/check/", f"/c/{claims[1].slug}/check/"):
            response = client.post(path, follow=True)
            problems_in(f"{person.username} POST {path}", response.text, problems)
        response = client.post("/claims/address/", {"address": "not an address"}, follow=True)
        problems_in(f"{person.username} POST /claims/address/", response.text, problems)
        # The htmx fragments the pages swap in, and the Connect dialog's errors (JSON).
        for path in ("/claims/", "/accounts/", f"/c/{claims[0].slug}/"):
            response = client.get(path, HTTP_HX_REQUEST="true")
            problems_in(f"{person.username} htmx {path}", response.text, problems)
        for data in ({"app": "no-such-app"}, {"app": "github", "account": "999999"}, {}):
            said = client.post("/connect/token/", data).json().get("error", "")
            assert said, data
            where = f"{person.username} /connect/token/ {data}"
            problems += [f"{where}: {rest}" for rest in unmarked_text(said, known_data())]
        client.logout()

    # The emails: sign-up, an account that already exists, password resets (known and
    # unknown address), a second address, an emailed Connect link, and any the engine
    # sent while the members above were seeded.
    signup = {"username": "gina", "email": "gina@example.com"}
    client.post("/signup/", {**signup, "password1": PASSWORD, "password2": PASSWORD})
    again = {**signup, "username": "gina2", "password1": PASSWORD, "password2": PASSWORD}
    client.post("/signup/", again)
    client.post("/password/reset/", {"email": "alice@example.com"})
    client.post("/password/reset/", {"email": "nobody@example.com"})
    client.force_login(members[0])
    client.post("/email/", {"action_add": "", "email": "alice.second@example.com"})
    with translation.override(pseudo):
        call_command("connect_link", user="bob", app="github", email=True, stdout=None)
    subjects = [message.subject for message in mail.outbox + by_the_engine]
    assert len(mail.outbox) >= 4 and by_the_engine, subjects
    known = known_data()
    emails = [(message, (OPEN, CLOSE)) for message in mail.outbox]
    emails += [(message, SITE_MARKS) for message in by_the_engine]
    for message, marks in emails:
        where = f"email {message.subject!r}"
        text = _DATA.sub(" ", f"{message.subject}\n{message.body}")
        problems += [f"{where}: {rest}" for rest in unmarked_text(text, known, marks)]
        for body, kind in getattr(message, "alternatives", []):
            if kind == "text/html":
                html = _DATA.sub(" ", body)
                problems += [f"{where} (html): {rest}" for rest in unmarked(html, known, marks)]

    # Every reason the engine stored (a failed check, none of "one of these" met, an
    # account to connect...) is English and reads in the member's language.
    reasons = Completion.objects.exclude(reason="").values_list("claim__slug", "reason")
    stored = {reason: slug for slug, reason in reasons}
    assert any(reason.startswith("Meet one of these: ") for reason in stored), stored
    assert any(" did not give an answer this check can use." in r for r in stored), stored
    with translation.override(pseudo):
        for reason, slug in stored.items():
            shown = _DATA.sub(" ", life.sentence_words(reason))
            if SITE_MARKS[0] in reason or unmarked_text(shown, known):
                problems.append(f"reason stored for {slug}: {reason!r} shown as {shown!r}")

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


# --- The scan itself ---------------------------------------------------------------------


def test_the_scan_lists_unmarked_text_and_attributes_and_nothing_else():
    page = (
        "<html><head><title>⟦Your claims⟧ · Brand</title>"
        '<script>const said = "Hello";</script><style>p::after { content: "x" }</style></head>'
        '<body><p>⟦Read <a href="/rules/">the rules</a> first⟧</p>'
        "<p>Nobody marked this</p>"
        '<button aria-label="Close">×</button><input type="submit" value="⟦Save⟧">'
        '<input type="text" value="typed by someone"><img alt="A badge" src="/b.png">'
        '<span title="⟦Tip⟧">alice · 42 · 6 ⟦Dec⟧ 2026, 17:05</span>'
        '<li data-announce="You earned it" data-state="completed">⟦Done⟧</li>'
        '<div role="slider" aria-valuetext="Half way" aria-roledescription="⟦dial⟧"></div>'
        "</body></html>"
    )
    assert unmarked(page, ["Brand", "alice"]) == [
        "Nobody marked this",
        "button[aria-label] 'Close'",
        "img[alt] 'A badge'",
        "li[data-announce] 'You earned it'",
        "div[aria-valuetext] 'Half way'",
    ]


def test_the_scan_of_an_email_reads_it_line_by_line_in_its_marks():
    body = "⟦Hello from Brand,⟧\n\n⟦Open this link\nto confirm:⟧\n\nThanks!\n⟪Site words⟫\n"
    assert unmarked_text(body, ["Brand"]) == ["Thanks!", "⟪Site words⟫"]
    assert unmarked_text(body, ["Brand"], SITE_MARKS) == [
        "⟦Hello from ,⟧",  # the brand is set aside
        "⟦Open this link",
        "to confirm:⟧",
        "Thanks!",
    ]


# --- The build ----------------------------------------------------------------------------


def test_the_committed_catalogue_compiles():
    done = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(COMMITTED)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_make_says_what_is_missing_without_gettext(tmp_path):
    """The Makefile's build of the catalogues stops with a sentence naming GNU gettext
    when msgfmt is not on the PATH (and passes when it is)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "bash", "sh"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    without = subprocess.run(
        ["make", "--no-print-directory", "gettext"],
        cwd=ROOT,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert without.returncode != 0
    assert "GNU gettext (msgfmt, xgettext) is needed" in without.stdout + without.stderr
    with_it = subprocess.run(
        ["make", "--no-print-directory", "gettext"], cwd=ROOT, capture_output=True, text=True
    )
    assert with_it.returncode == 0, with_it.stdout + with_it.stderr


# --- What the engine stores ---------------------------------------------------------------


def test_stored_reasons_and_built_sentences_read_in_the_members_language(pseudo):
    """The engine stores English; a page shows a fixed reason, a reason with values in it
    (a nested reason too) and a stop's dated sentence translated, and anything else (an
    operator's or an upstream's own words) as it was stored."""
    not_answering = "BitBadges is not answering at the moment; we will try again."
    gave_up = wording.GAVE_UP % {"tries": 5, "reason": not_answering}
    assert gave_up == f"We gave up after 5 tries: {not_answering}"  # what the engine stores
    with translation.override(pseudo):
        assert wording.reason_words(gave_up) == (
            f"{OPEN}We gave up after 5 tries: {OPEN}{not_answering}{CLOSE}{CLOSE}"
        )
        assert wording.reason_words(REVOKED_REASON) == f"{OPEN}{REVOKED_REASON}{CLOSE}"
        closed = "This claim closed on 2026-12-04 17:51."
        assert life.sentence_words(closed) == f"{OPEN}{closed}{CLOSE}"
        assert wording.reason_words("Typed by the organiser.") == "Typed by the organiser."
        sentence = wording.check_sentence("GitHub", "user.public_repos", "gte", "5")
        assert sentence == f"{OPEN}Have at least 5 public repos on GitHub{CLOSE}"
    assert wording.reason_words(gave_up) == gave_up  # English: as stored


def test_the_evaluations_reasons_and_plurals_read_in_the_members_language(pseudo):
    """What claims/engine/evaluation.py and the workflow method store (English, values in
    them) reads marked in en-xa, the sentences inside too; counts take the plural form the
    language gives them."""
    repos, slack = "Have at least 1000 public repos on GitHub", "Connect a working Slack account"
    five = "Have at least 5 public repos"
    # (what is stored, the sentences inside it that must read translated too)
    stored = [
        (wording.MEET_ONE_OF % {"list": f"{repos}; {slack}"}, [repos, slack]),
        (wording.NOT_MET % {"requirement": wording.EMAIL_LABEL}, [wording.EMAIL_LABEL]),
        (wording.CHECK_UNANSWERED % {"app": "GitHub"}, []),
        (wording.CONFIRM_EMAIL_TO % {"email": "erin@example.com"}, []),
        (wording.ADDRESS_MISSING, []),
        (wording.CLAIM_HAS_CLOSED, []),
        (wording.WORKFLOW_REFUSED % {"said": workflow._said(None)}, [wording.NO_REASON_GIVEN]),
        (f"This claim is not for members who {repos[:1].lower()}{repos[1:]}.", [repos]),
        (wording.GAVE_UP % {"tries": 5, "reason": f"Not yet: {five}."}, [five]),
    ]
    known = ["GitHub", "Slack"]
    with translation.override(pseudo):
        for reason, inside in stored:
            shown = wording.reason_words(reason)
            assert not unmarked_text(_DATA.sub(" ", shown), known), (reason, shown)
            for sentence in inside:
                lowered = f"{OPEN}{sentence[:1].lower()}{sentence[1:]}{CLOSE}"
                assert f"{OPEN}{sentence}{CLOSE}" in shown or lowered in shown, (reason, shown)
        once = wording.reason_words(wording.CAP_REACHED % {"cap": 1})
        assert once == f"{OPEN}The only badge of this claim (1 in all) has been given out.{CLOSE}"
        many = wording.reason_words(wording.CAP_REACHED % {"cap": 3})
        assert many == f"{OPEN}All 3 of this claim have been given out.{CLOSE}"
        tried = wording.reason_words(wording.GAVE_UP_UNCONFIRMED % {"tries": 1})
        assert tried.startswith(f"{OPEN}We gave up after 1 try without"), tried
    for reason, _inside in stored:  # English: as stored
        assert wording.reason_words(reason) == reason
