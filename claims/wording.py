"""What members read of a requirement: pure functions, no queries, no imports of models.

A requirement reads as an instruction ("Have at least 5 public repositories"), in the
operator's words when they wrote some and otherwise built from the check without any
field path, operator symbol or HTTP status; the last evidence adds a fact about the
member ("you have 3") only when its value is something a person can use. The admin keeps
the technical label (claims.rules.criterion_label).
"""

import re
from typing import Any

from django.core.exceptions import ObjectDoesNotExist

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


def check_sentence(
    app_name: str, path: str, comparison: str, value: str, proxy_url: str = ""
) -> str:
    """An instruction for a check with no operator sentence, e.g. path user.public_repos,
    gte, 5 on GitHub -> "Have at least 5 public repos on GitHub"."""
    app = (app_name or "").strip()
    on = f" on {app}" if app else ""
    yours = f"your {app} " if app else "your "
    generic = f"Pass the {app} check for this claim" if app else "Pass this claim's check"
    starred = _STARRED.search((proxy_url or "").split("?")[0])
    if starred and (path or "").strip() == "$status":
        return f"Star {starred.group(1)}/{starred.group(2)}{on}"
    words = field_words(path)
    value = (value or "").strip()
    if not words or (comparison != "truthy" and not value):
        return generic
    if comparison in ("eq", "ne") and value.lower() in ("true", "false"):
        wanted = (value.lower() == "true") == (comparison == "eq")
        comparison = "truthy" if wanted else "falsy"
    if comparison in ("gte", "gt", "lte", "lt") and not _NUMBER.match(value):
        return generic
    shown = value if _PLAIN_VALUE.match(value) else "the value this claim asks for"
    account = f"your {app} account" if app else "your account"
    sentences = {
        "gte": f"Have at least {value} {words}{on}",
        "gt": f"Have more than {value} {words}{on}",
        "lte": f"Have at most {value} {words}{on}",
        "lt": f"Have fewer than {value} {words}{on}",
        "eq": f"Have {shown} as {yours}{words}",
        "ne": f"Have {yours}{words} set to something other than {shown}",
        "contains": f"Have {shown} in {yours}{words}",
        "truthy": f"Have {words} on {account}",
        "falsy": f"Not have {words} on {account}",
    }
    return sentences.get(comparison, generic)


# A claim's settings failed it (claims/engine/errors.py raises these): only an
# administrator can change the answer, so a member's check would fail the same way.
SETTINGS_NEED_ATTENTION = "This claim's settings need attention; the site's admins have been told."
SIGN_IN_REQUIRED = (
    "BitBadges asks members to sign in for this claim, which this site cannot do for "
    "you; the site's admins have been told."
)
SETTINGS_REFUSED = "BitBadges refused this claim's settings; the site's admins have been told."
NO_DELIVERY_METHOD = "This claim has no delivery method."
SETTINGS_FAILURES = frozenset(
    {SETTINGS_NEED_ATTENTION, SIGN_IN_REQUIRED, SETTINGS_REFUSED, NO_DELIVERY_METHOD}
)

_VERBS = {"have", "star", "connect", "pass", "own", "hold", "follow", "use", "fork", "belong"}


def must_not_sentence(sentence: str) -> str:
    """The sentence of a "must not" requirement: "Not for members who have ..."."""
    sentence = sentence.strip().rstrip(".")
    if sentence.startswith("Not have "):
        return "Not for members who do not have " + sentence.removeprefix("Not have ")
    first = sentence.split(" ", 1)[0]
    if first.lower() in _VERBS:
        return f"Not for members who {first.lower()}{sentence[len(first) :]}"
    return f"Not for members who meet this: {_lower_first(sentence)}"


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
        sentence = f"Connect a working {app} account" if app else "Connect a working account"
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
        return f"you have {seen}"
    if comparison in ("eq", "ne") and _PLAIN_VALUE.match(seen):
        return f"yours is {seen}"
    return ""


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
