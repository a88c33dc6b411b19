"""What members read of a requirement: pure functions, no queries, no imports of models.

A requirement reads as an instruction ("Have at least 5 public repositories"), in the
operator's words when they wrote some and otherwise built from the check without any
field path, operator symbol or HTTP status; the last evidence adds a fact about the
member ("you have 3") only when its value is something a person can use. The admin keeps
the technical label (claims.rules.criterion_label).

Every sentence is a whole message in the catalogue (gettext, with named placeholders),
translated into the active language when it is built. The reasons the engine stores on a
completion (SETTINGS_NEED_ATTENTION and the like) are kept in English in the database and
marked with gettext_noop: `reason_words` translates them when a page shows them, finding
a message with values in it (and the requirement sentences inside it) by its wording, and
the counted ones through ngettext.
"""

import re
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext, gettext_noop, ngettext

ACCOUNT = "account"
NONE_GROUP = "none"

# A starred-repository check through the proxy: GET /user/starred/<owner>/<repo>.
_STARRED = re.compile(r"/user/starred/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/?$")
_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9_ -]*$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _'-]{0,39}$")
# Evidence values that say nothing a person can use.
_SILENT_VALUES = {"", "(absent)", "(not checked)", "(error)", "(none)", "null", "true", "false"}


def _app_name(requirement: Any) -> str:
    """Its app's name (the caller selects it with the requirement), or "" without one."""
    try:
        app = getattr(requirement, "app", None)
    except ObjectDoesNotExist:
        app = None
    return (getattr(app, "name", "") or "").strip()


def field_words(path: str) -> str:
    """The last meaningful segment of a dotted path, as words ("user.public_repos" ->
    "public repos", "items.0.fullName" -> "full name"), or "" when it is technical."""
    segments = [s for s in (path or "").split(".") if s and not s.lstrip("-").isdigit()]
    if not segments:
        return ""
    last = segments[-1]
    if not _WORD.match(last):
        return ""  # "$status" and anything else no person would say
    words = _CAMEL.sub(" ", last).replace("_", " ").replace("-", " ")
    return " ".join(words.lower().split())


# The sentence of each comparison, with the app's name and without one. Placeholders:
# value (a number or a plain value from the claim), words (the field's name in words, as
# the upstream API names it), shown (the value, or "the value this claim asks for"), app.
_WITH_APP = {
    "gte": gettext_noop("Have at least %(value)s %(words)s on %(app)s"),
    "gt": gettext_noop("Have more than %(value)s %(words)s on %(app)s"),
    "lte": gettext_noop("Have at most %(value)s %(words)s on %(app)s"),
    "lt": gettext_noop("Have fewer than %(value)s %(words)s on %(app)s"),
    "eq": gettext_noop("Have %(shown)s as your %(app)s %(words)s"),
    "ne": gettext_noop("Have your %(app)s %(words)s set to something other than %(shown)s"),
    "contains": gettext_noop("Have %(shown)s in your %(app)s %(words)s"),
    "truthy": gettext_noop("Have %(words)s on your %(app)s account"),
    "falsy": gettext_noop("Not have %(words)s on your %(app)s account"),
}
_WITHOUT_APP = {
    "gte": gettext_noop("Have at least %(value)s %(words)s"),
    "gt": gettext_noop("Have more than %(value)s %(words)s"),
    "lte": gettext_noop("Have at most %(value)s %(words)s"),
    "lt": gettext_noop("Have fewer than %(value)s %(words)s"),
    "eq": gettext_noop("Have %(shown)s as your %(words)s"),
    "ne": gettext_noop("Have your %(words)s set to something other than %(shown)s"),
    "contains": gettext_noop("Have %(shown)s in your %(words)s"),
    "truthy": gettext_noop("Have %(words)s on your account"),
    "falsy": gettext_noop("Not have %(words)s on your account"),
}


def check_sentence(
    app_name: str, path: str, comparison: str, value: str, proxy_url: str = ""
) -> str:
    """An instruction for a check with no operator sentence, e.g. path user.public_repos,
    gte, 5 on GitHub -> "Have at least 5 public repos on GitHub"."""
    app = (app_name or "").strip()
    if app:
        generic = gettext("Pass the %(app)s check for this claim") % {"app": app}
    else:
        generic = gettext("Pass this claim's check")
    starred = _STARRED.search((proxy_url or "").split("?")[0])
    if starred and (path or "").strip() == "$status":
        repository = f"{starred.group(1)}/{starred.group(2)}"
        if app:
            # Translators: repository is owner/name on GitHub (or another app).
            return gettext("Star %(repository)s on %(app)s") % {
                "repository": repository,
                "app": app,
            }
        return gettext("Star %(repository)s") % {"repository": repository}
    words = field_words(path)
    value = (value or "").strip()
    if not words or (comparison != "truthy" and not value):
        return generic
    if comparison in ("eq", "ne") and value.lower() in ("true", "false"):
        wanted = (value.lower() == "true") == (comparison == "eq")
        comparison = "truthy" if wanted else "falsy"
    if comparison in ("gte", "gt", "lte", "lt") and not _NUMBER.match(value):
        return generic
    # Translators: stands for a value too long or odd to show, in "Have %(shown)s as...".
    shown = value if _PLAIN_VALUE.match(value) else gettext("the value this claim asks for")
    sentence = (_WITH_APP if app else _WITHOUT_APP).get(comparison)
    if sentence is None:
        return generic
    return gettext(sentence) % {"value": value, "words": words, "shown": shown, "app": app}


# A claim's settings failed it (claims/engine/errors.py raises these): only an
# administrator can change the answer, so a member's check would fail the same way.
# Stored in English on the completion; `reason_words` translates them on the page.
SETTINGS_NEED_ATTENTION = gettext_noop(
    "This claim's settings need attention; the site's admins have been told."
)
SIGN_IN_REQUIRED = gettext_noop(
    "BitBadges asks members to sign in for this claim, which this site cannot do for "
    "you; the site's admins have been told."
)
SETTINGS_REFUSED = gettext_noop(
    "BitBadges refused this claim's settings; the site's admins have been told."
)
NO_DELIVERY_METHOD = gettext_noop("This claim has no delivery method.")
SETTINGS_FAILURES = frozenset(
    {SETTINGS_NEED_ATTENTION, SIGN_IN_REQUIRED, SETTINGS_REFUSED, NO_DELIVERY_METHOD}
)

_VERBS = {"have", "star", "connect", "pass", "own", "hold", "follow", "use", "fork", "belong"}


def must_not_sentence(sentence: str) -> str:
    """The sentence of a "must not" requirement: "Not for members who have ...".

    `sentence` is the requirement's instruction (translated, or the operator's words). An
    English one that starts with a verb reads on after "who"; any other (another
    language's) comes after "meet this:"."""
    sentence = sentence.strip().rstrip(".")
    if sentence.startswith("Not have "):
        # Translators: what follows "Not have" in an English requirement (not translated).
        return gettext("Not for members who do not have %(what)s") % {
            "what": sentence.removeprefix("Not have ")
        }
    first = sentence.split(" ", 1)[0]
    if first.lower() in _VERBS:
        # Translators: condition is an English requirement starting with a verb in lower
        # case ("have at least 5 public repos on GitHub"), as the operator wrote it.
        return gettext("Not for members who %(condition)s") % {
            "condition": f"{first.lower()}{sentence[len(first) :]}"
        }
    # Translators: condition is a requirement, such as "Have at least 5 public repos".
    return gettext("Not for members who meet this: %(condition)s") % {
        "condition": _lower_first(sentence)
    }


def _lower_first(sentence: str) -> str:
    """Lower-case its first word when that is an ordinary capitalised word ("Be" -> "be"),
    not a name like "GitHub" or "BitBadges", nor an acronym."""
    first = sentence.split(" ", 1)[0]
    if len(first) > 1 and first[0].isupper() and first[1:].islower():
        return first.lower() + sentence[len(first) :]
    if len(first) == 1 and first.isupper() and first != "I":
        return first.lower() + sentence[1:]
    return sentence


def requirement_sentence(requirement: Any, *, positive: bool = False) -> str:
    """The instruction a member reads for a requirement (see the module's docstring);
    for a "must not" one who the claim is not for, unless `positive`."""
    app = _app_name(requirement)
    text = (getattr(requirement, "text", "") or "").strip()
    if text:
        sentence = text.rstrip(".")
    elif getattr(requirement, "kind", ACCOUNT) == ACCOUNT:
        if app:
            sentence = gettext("Connect a working %(app)s account") % {"app": app}
        else:
            sentence = gettext("Connect a working account")
    else:
        sentence = check_sentence(
            app,
            getattr(requirement, "path", ""),
            getattr(requirement, "comparison", ""),
            getattr(requirement, "value", ""),
            getattr(requirement, "proxy_url", ""),
        )
    if getattr(requirement, "group", "") == NONE_GROUP and not positive:
        return must_not_sentence(sentence)
    return sentence


def value_fact(path: str, comparison: str, value: Any) -> str:
    """A fact about the member from a value seen: "you have 3" for a number compared as
    an amount (at least, more than, at most, fewer than); "yours is X" for a plain value
    that must (or must not) equal one; "" when the value says nothing a person can use."""
    if field_words(path) == "" or not isinstance(value, str):
        return ""
    seen = value.strip()
    if seen.lower() in _SILENT_VALUES or comparison in ("truthy", "contains"):
        return ""
    if _NUMBER.match(seen) and comparison in ("gte", "gt", "lte", "lt"):
        # Translators: after a requirement: "Have at least 5 public repos: you have 3".
        return gettext("you have %(value)s") % {"value": seen}
    if comparison in ("eq", "ne") and _PLAIN_VALUE.match(seen):
        # Translators: after a requirement: "Have main as your branch: yours is dev".
        return gettext("yours is %(value)s") % {"value": seen}
    return ""


# Reasons the engine stores with a value in them: the English message filled in. A page
# finds the message again by its wording (`reason_words`) and shows it translated.
# GAVE_UP, GAVE_UP_UNCONFIRMED and CAP_REACHED are stored in their plural English form
# and shown through ngettext (_PLURALS), so every language gets its own plural forms.
GAVE_UP = "We gave up after %(tries)s tries: %(reason)s"
GAVE_UP_UNCONFIRMED = (
    "We gave up after %(tries)s tries without confirming whether this was delivered; the "
    "site's admins will check."
)
CAP_REACHED = "All %(cap)s of this claim have been given out."
# Translators: identity is the account's name there, such as a GitHub login.
IDENTITY_USED = gettext_noop(
    "This %(app)s account (%(identity)s) has already earned this claim for another member."
)
# Translators: said is the claim's workflow's own answer, as it gave it (not translated),
# or "no reason given" (translated).
WORKFLOW_REFUSED = gettext_noop("The claim's workflow turned this down: %(said)s")
# Translators: fills "The claim's workflow turned this down: %(said)s" when it said nothing.
NO_REASON_GIVEN = gettext_noop("no reason given")

# The evaluation's reasons (claims/engine/evaluation.py), stored in English. `list` is
# the requirements' sentences joined by "; ".
MEET_ONE_OF = gettext_noop("Meet one of these: %(list)s.")
NOT_MET = gettext_noop("%(requirement)s: not met.")
CONFIRM_EMAIL_TO = gettext_noop("Confirm your email address: we sent a link to %(email)s.")
# A member with no email address at all (one who signed up with BitBadges): no link
# was sent, so none is mentioned.
ADD_EMAIL = gettext_noop("Add an email address on your profile, then confirm it.")
# Where members can prove their address (Sign in with BitBadges is on), the gate is a
# confirmed email OR a proven address, and a member with neither is told both ways.
CONFIRM_EMAIL_OR_PROVE_TO = gettext_noop(
    "Confirm your email address (we sent a link to %(email)s), or prove your BitBadges "
    "address is yours: connect BitBadges on your profile."
)
ADD_EMAIL_OR_PROVE = gettext_noop(
    "Prove your BitBadges address is yours: connect BitBadges on your profile. Or add an "
    "email address there, then confirm it."
)
# Stored by earlier versions for a member without an email (said a link was sent): kept
# so rows that still say them are translated until they are checked again.
CONFIRM_EMAIL = gettext_noop("Confirm your email address: we sent a link.")
CONFIRM_EMAIL_OR_PROVE = gettext_noop(
    "Confirm your email address (we sent a link), or prove your BitBadges address is "
    "yours: connect BitBadges on your profile."
)
# A claim that requires a proven address (Claim.require_proven_address).
PROVE_ADDRESS = gettext_noop("Prove this address is yours: connect BitBadges on your profile.")
PROVE_NEW_ADDRESS = gettext_noop(
    "Connect BitBadges on your profile: the address it proves is where the badge goes."
)
# A claim with one completion per address, whose address another completion holds.
ADDRESS_CLAIMED = gettext_noop("Already claimed for this address.")
ADDRESS_MISSING = gettext_noop("Add your BitBadges address so the badge has somewhere to go.")
# Translators: problem says what is wrong with the address ("An 0x address has ...").
ADDRESS_INVALID = gettext_noop("Your BitBadges address is not valid: %(problem)s")
CHECK_UNANSWERED = gettext_noop(
    "%(app)s did not give an answer this check can use. If your %(app)s account has "
    "changed, reconnect it; otherwise check again later."
)
CONNECT_FIRST = gettext_noop("Connect a healthy %(app)s account first.")
CHECKED_LATER = gettext_noop("Checked once the requirements above are met.")
NOT_NEEDED = gettext_noop("Not needed: another of these is met.")
CLAIM_HAS_CLOSED = gettext_noop("This claim has closed.")
EMAIL_LABEL = gettext_noop("Email address confirmed")
IDENTITY_LABEL = gettext_noop("Email address confirmed or BitBadges address proven")
PROVEN_LABEL = gettext_noop("BitBadges address proven")
ADDRESS_LABEL = gettext_noop("BitBadges address set")
WINDOW_LABEL = gettext_noop("Claim open")

_PLURALS = {
    GAVE_UP: (
        "tries",
        lambda n: ngettext(
            "We gave up after %(tries)s try: %(reason)s",
            "We gave up after %(tries)s tries: %(reason)s",
            n,
        ),
    ),
    GAVE_UP_UNCONFIRMED: (
        "tries",
        lambda n: ngettext(
            "We gave up after %(tries)s try without confirming whether this was delivered; "
            "the site's admins will check.",
            "We gave up after %(tries)s tries without confirming whether this was delivered; "
            "the site's admins will check.",
            n,
        ),
    ),
    CAP_REACHED: (
        "cap",
        lambda n: ngettext(
            "The only badge of this claim (%(cap)s in all) has been given out.",
            "All %(cap)s of this claim have been given out.",
            n,
        ),
    ),
}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _filled(message: str) -> re.Pattern[str]:
    """A pattern matching `message` with its placeholders filled in (a placeholder used
    twice must hold the same text both times)."""
    parts = _PLACEHOLDER.split(message)  # text, name, text, name, ..., text
    seen: set[str] = set()
    pattern = ""
    for i, part in enumerate(parts):
        if i % 2 == 0:
            pattern += re.escape(part)
        elif part in seen:
            pattern += f"(?P={part})"
        else:
            seen.add(part)
            pattern += f"(?P<{part}>.+?)"
    return re.compile(f"^{pattern}$", re.S)


# Sentences that come back inside a stored reason: a requirement's instruction (as
# check_sentence and requirement_sentence build it in English) and a fact about the member.
_INNER = [
    *_WITH_APP.values(),
    *_WITHOUT_APP.values(),
    gettext_noop("Pass the %(app)s check for this claim"),
    gettext_noop("Star %(repository)s on %(app)s"),
    gettext_noop("Star %(repository)s"),
    gettext_noop("Connect a working %(app)s account"),
    gettext_noop("Not for members who do not have %(what)s"),
    gettext_noop("Not for members who meet this: %(condition)s"),
    gettext_noop("Not for members who %(condition)s"),
    gettext_noop("you have %(value)s"),
    gettext_noop("yours is %(value)s"),
    gettext_noop("%(app)s connected"),
    gettext_noop("%(app)s account healthy"),
]
# Reasons as they are stored: the engine's messages above, and claims/rules.py's details.
_REASONS = [
    GAVE_UP,
    GAVE_UP_UNCONFIRMED,
    CAP_REACHED,
    IDENTITY_USED,
    WORKFLOW_REFUSED,
    MEET_ONE_OF,
    NOT_MET,
    CONFIRM_EMAIL_TO,
    CONFIRM_EMAIL_OR_PROVE_TO,
    ADDRESS_INVALID,
    CHECK_UNANSWERED,
    CONNECT_FIRST,
    gettext_noop("Connect your %(app)s account."),
    gettext_noop("Your %(app)s account needs reconnecting."),
    gettext_noop("This claim is %(condition)s."),
    gettext_noop("Not yet: %(requirement)s."),
    gettext_noop("%(requirement)s: %(fact)s."),
]
_FILLED = [(_filled(message), message) for message in [*_REASONS, *_INNER]]
# Longer stored text is shown as it is, unmatched: the patterns' lazy groups cost time
# that grows with the square of the length (our messages filled in stay far below).
MAX_MATCHED = 2000
# How deep a reason inside a reason is translated (GAVE_UP's reason, a requirement
# inside "Not yet: ...", a condition inside "Not for members who ..."); no deeper.
_MAX_DEPTH = 2
# The values translated in turn (the rest, names and the member's values, stay as they are).
_NESTED = {"reason", "requirement", "fact", "condition", "list", "problem"}


def reason_words(reason: str) -> str:
    """A reason stored on a completion, in the active language: one of the fixed sentences
    the catalogue holds (marked with gettext_noop where it is written), or one of the
    messages above filled in (its values kept, a nested reason or requirement translated
    too); any other as it was stored (a stored text cannot be translated later).

    gettext() of a stored text also translates one that happens to equal any msgid of the
    catalogue (Django's and allauth's too): harmless, it is the same words translated."""
    return _words(reason or "", 0)


def _words(text: str, depth: int) -> str:
    if not text:
        return ""
    translated = gettext(text)
    if translated != text:
        return translated
    if len(text) > MAX_MATCHED or depth > _MAX_DEPTH:
        return text
    for pattern, message in _FILLED:
        if not (found := pattern.match(text)):
            continue
        values = found.groupdict()
        for name in values.keys() & _NESTED:
            values[name] = _nested(name, values[name], depth + 1)
        if values.get("said") == NO_REASON_GIVEN:
            values["said"] = gettext(NO_REASON_GIVEN)
        if message in _PLURALS:
            counted, plural = _PLURALS[message]
            number = values[counted]
            return plural(int(number) if number.isdigit() else 2) % values
        return gettext(message) % values
    return text


def _nested(name: str, value: str, depth: int) -> str:
    """A value found inside a stored reason, translated when it is one of our sentences."""
    if name == "list":
        return "; ".join(_words(item, depth) for item in value.split("; "))
    if name == "condition" and value[:1].islower():
        # Stored with its first letter lowered ("have at least 20 ... on GitHub").
        capital = value[:1].upper() + value[1:]
        translated = _words(capital, depth)
        return value if translated == capital else translated[:1].lower() + translated[1:]
    return _words(value, depth)


def requirement_fact(requirement: Any, evidence_item: dict | None) -> str:
    """What the last evidence says about the member, e.g. "you have 3", or ""."""
    if not isinstance(evidence_item, dict) or getattr(requirement, "kind", ACCOUNT) == ACCOUNT:
        return ""
    return value_fact(
        getattr(requirement, "path", ""),
        getattr(requirement, "comparison", ""),
        evidence_item.get("value"),
    )


def requirement_link(requirement: Any) -> str:
    """Where members do it: the operator's https link, or ""."""
    link = (getattr(requirement, "link", "") or "").strip()
    return link if link.startswith("https://") else ""
