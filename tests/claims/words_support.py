"""What no member page or email may show: developer strings (issue 20, item 1).

`developer_strings(text)` lists what it finds in a page's or an email's text: dotted
field paths (domains, email addresses and URLs excepted), field names (snake_case), the symbols ≥ ≤ ≠, "seen:",
"$status", HTTP status codes said as such, a traceback, and Python's None (as a value).
`page_text(html)` is what a person reads of a page: tags, scripts and styles removed.
"""

import html
import re

_SCRIPTS = re.compile(r"<(script|style|template)\b.*?</\1\s*>", re.S | re.I)
_COMMENTS = re.compile(r"<!--.*?-->", re.S)
_TAGS = re.compile(r"<[^>]+>")
_URLS = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.I)
_EMAILS = re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")
# A dotted path: user.public_repos, items.0.name, $status.code (a domain is let through
# below by its last label).
_PATH = re.compile(r"(?<![\w.@/])\$?[A-Za-z_][A-Za-z0-9_]*(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|\d+))+\b")
_DOMAIN_ENDINGS = {"com", "io", "org", "net", "dev", "app", "xyz", "example", "test", "local"}
_WORDS_WITH_DOTS = {"e.g", "i.e"}
# A field name on its own: public_repos, two_factor_authentication (no person writes one).
_FIELD = re.compile(r"(?<![\w.@/-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_STATUS = re.compile(
    r"\b(?:HTTP|status|answered|answer|code|error)\s*:?\s*[1-5]\d\d\b"
    r"|\b[1-5]\d\d\s+(?:error|status|response|Not Found|Unauthorized|Forbidden|Bad Request)\b",
    re.I,
)
_LITERALS = ("≥", "≤", "≠", "seen:", "$status", "Traceback")
# Python's None as a value ("Address: None"); English "None yet", "None of these" pass.
_NONE = re.compile(r"\bNone\b(?! [a-z])")


def page_text(markup: str) -> str:
    """The text a person reads of an HTML page."""
    text = _COMMENTS.sub(" ", _SCRIPTS.sub(" ", markup))
    return " ".join(html.unescape(_TAGS.sub(" ", text)).split())


def developer_strings(text: str) -> list[str]:
    """Every developer string in `text` (see the module's docstring)."""
    found = [literal for literal in _LITERALS if literal in text]
    plain = _EMAILS.sub(" ", _URLS.sub(" ", text))
    for match in _PATH.finditer(plain):
        path = match.group(0)
        last = path.rsplit(".", 1)[-1].lower()
        if last in _DOMAIN_ENDINGS or path.lower() in _WORDS_WITH_DOTS:
            continue
        found.append(path)
    found += [match.group(0) for match in _FIELD.finditer(plain)]
    found += [match.group(0) for match in _STATUS.finditer(text)]
    found += ["None" for _ in _NONE.finditer(text)]
    return found
