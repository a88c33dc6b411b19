"""A pseudo-language for the translation tests (issue 21, item 5).

- `extract(into)`: `make messages` on a copy of the source tree: makemessages with the
  Makefile's MESSAGES_IGNORE and options, into `into`/locale/en/LC_MESSAGES/django.po.
  The checkout's own locale/ is never written.
- `msgids(po)`: the set of (context, msgid) a .po file holds (the header left out).
- `build_pseudo(po, locale_dir)`: locale_dir/en_XA/LC_MESSAGES/django.mo, in which every
  message of `po` and of the installed apps' catalogues (Django's, allauth's: their
  strings are marked in their own catalogue) reads "⟦" + the English + "⟧". Placeholders
  (%(name)s, {name}) and HTML tags inside a message stay as they are, inside the marks.
- `unmarked(html, known)`: the text a person reads on a page (text nodes outside script
  and style, and the attributes title, aria-label, aria-description, aria-valuetext,
  aria-roledescription, placeholder, alt, label, data-announce, and the value of buttons) that lies outside ⟦ ⟧, once `known` (what people typed:
  names, emails, addresses...) and text with no letter in it (numbers, punctuation,
  symbols) are set aside.
"""

import contextlib
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import django
from django.apps import apps as django_apps
from django.core.management import call_command
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent.parent
OPEN, CLOSE = "⟦", "⟧"
PSEUDO = "en-xa"  # Django's code; its catalogue folder is en_XA
# A second pseudo-language, the one background work runs in: what it writes into the
# database shows up on en-xa pages in its own marks, not in en-xa's.
SITE_PSEUDO, SITE_MARKS = "en-xb", ("⟪", "⟫")

# The options of `make messages` besides the ignore patterns (keep the two alike).
MAKEMESSAGES_OPTIONS = {"add_location": "file", "no_obsolete": True}


def messages_ignore() -> list[str]:
    """The Makefile's MESSAGES_IGNORE: what makemessages and compilemessages leave out."""
    found = re.search(r"^MESSAGES_IGNORE\s*:?=(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert found, "The Makefile has no MESSAGES_IGNORE line (tests/i18n reads it)."
    return found.group(1).split()


def _copy_sources(into: Path, ignore: list[str]) -> None:
    """The files makemessages reads (.py, .html, .txt), outside ignored and hidden folders."""
    skipped = {*ignore, "locale", "__pycache__"}
    for folder, folders, files in os.walk(ROOT):
        folders[:] = [name for name in folders if name not in skipped and name[0] != "."]
        wanted = [name for name in files if name.endswith((".py", ".html", ".txt"))]
        if not wanted:
            continue
        target = into / Path(folder).relative_to(ROOT)
        target.mkdir(parents=True, exist_ok=True)
        for name in wanted:
            shutil.copyfile(Path(folder) / name, target / name)


def extract(into: Path) -> Path:
    """The catalogue `make messages` would write now, in a copy of the tree under `into`."""
    ignore = messages_ignore()
    _copy_sources(into, ignore)
    locale = into / "locale"
    (locale / "en" / "LC_MESSAGES").mkdir(parents=True)
    with contextlib.chdir(into), override_settings(LOCALE_PATHS=[locale]):
        call_command(
            "makemessages",
            locale=["en"],
            ignore_patterns=ignore,
            verbosity=0,
            **MAKEMESSAGES_OPTIONS,
        )
    return locale / "en" / "LC_MESSAGES" / "django.po"


_ENTRY_KEYS = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+"(.*)"$')
_CONTINUATION = re.compile(r'^"(.*)"$')
_UNESCAPE = {"n": "\n", "t": "\t", "r": "\r"}


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)), text)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + '"'


def entries(po: Path) -> list[dict[str, str]]:
    """The messages of a .po file, each {"msgctxt", "msgid", "msgid_plural"} as present
    (the header and obsolete entries left out)."""
    found: list[dict[str, str]] = []
    entry: dict[str, str] = {}
    key = ""

    def flush() -> None:
        if entry.get("msgid"):
            found.append({k: v for k, v in entry.items() if not k.startswith("msgstr")})
        entry.clear()

    for line in po.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        keyed = _ENTRY_KEYS.match(line)
        if keyed:
            key = keyed.group(1)
            if key in {"msgctxt", "msgid"} and ("msgstr" in entry or key in entry):
                flush()
            entry[key] = _unquote(keyed.group(2))
        elif (continued := _CONTINUATION.match(line)) and key:
            entry[key] += _unquote(continued.group(1))
        elif not line or line.startswith("#~"):
            flush()
            key = ""
    flush()
    return found


def msgids(po: Path) -> set[tuple[str, str]]:
    """Every (msgctxt, msgid) in `po` (obsolete entries and the header left out)."""
    return {(entry.get("msgctxt", ""), entry["msgid"]) for entry in entries(po)}


def _library_catalogues() -> list[Path]:
    """The django.po of Django and of each installed app that has one (English if it has
    it, else any language: the msgids are the same)."""
    found = []
    roots = [Path(django.__file__).parent / "conf"]
    roots += [Path(config.path) for config in django_apps.get_app_configs()]
    for root in roots:
        ours = ROOT in root.parents and "site-packages" not in root.parts
        if ours or not (root / "locale").is_dir():
            continue
        english = root / "locale" / "en" / "LC_MESSAGES" / "django.po"
        found += (
            [english]
            if english.exists()
            else sorted(root.glob("locale/*/LC_MESSAGES/django.po"))[:1]
        )
    return found


_HEADER = (
    'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
    '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n'
)


def _wrap(text: str, marks: tuple[str, str]) -> str:
    """⟦text⟧, the marks inside any newlines the message starts or ends with."""
    body = text.strip("\n")
    start = text[: len(text) - len(text.lstrip("\n"))]
    end = text[len(text.rstrip("\n")) :]
    return f"{start}{marks[0]}{body}{marks[1]}{end}" if body else text


def build_pseudo(
    po: Path, locale_dir: Path, *, code: str = PSEUDO, marks: tuple[str, str] = (OPEN, CLOSE)
) -> Path:
    """locale_dir/<code's folder>/LC_MESSAGES/django.mo: every message wrapped in `marks`
    (see above)."""
    language, _, region = code.partition("-")
    folder = locale_dir / f"{language}_{region.upper()}" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    # The project's messages first: its wording wins over a library's for the same msgid.
    merged: dict[tuple[str, str], dict[str, str]] = {}
    for catalogue in [po, *_library_catalogues()]:
        for entry in entries(catalogue):
            merged.setdefault((entry.get("msgctxt", ""), entry["msgid"]), entry)
    blocks = [_HEADER]
    for entry in merged.values():
        lines = [f"msgctxt {_quote(entry['msgctxt'])}"] if "msgctxt" in entry else []
        lines.append(f"msgid {_quote(entry['msgid'])}")
        if "msgid_plural" in entry:
            lines.append(f"msgid_plural {_quote(entry['msgid_plural'])}")
            lines.append(f"msgstr[0] {_quote(_wrap(entry['msgid'], marks))}")
            lines.append(f"msgstr[1] {_quote(_wrap(entry['msgid_plural'], marks))}")
        else:
            lines.append(f"msgstr {_quote(_wrap(entry['msgid'], marks))}")
        blocks.append("\n".join(lines) + "\n")
    pseudo = folder / "django.po"
    pseudo.write_text("\n".join(blocks), encoding="utf-8")
    done = subprocess.run(
        ["msgfmt", "-o", str(folder / "django.mo"), str(pseudo)], capture_output=True, text=True
    )
    assert done.returncode == 0, f"msgfmt failed: {done.stderr[-2000:]}"
    return folder / "django.mo"


# --- Reading a page -------------------------------------------------------------------

# What a person reads or a screen reader speaks; data-announce is read into the live
# region (static/js/focus.js).
_READ_ATTRIBUTES = {
    "title",
    "aria-label",
    "aria-description",
    "aria-valuetext",
    "aria-roledescription",
    "placeholder",
    "alt",
    "label",
    "data-announce",
}
_BUTTON_TYPES = {"submit", "button", "reset"}
_SKIPPED = {"script", "style"}
_NODE = "\x00"


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.attributes: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIPPED:
            self.skipping += 1
        values = dict(attrs)
        for name, value in attrs:
            if value and name in _READ_ATTRIBUTES:
                self.attributes.append(f"{tag}[{name}]: {value}")
        if tag == "input" and values.get("type") in _BUTTON_TYPES and values.get("value"):
            self.attributes.append(f"input[value]: {values['value']}")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in _SKIPPED:
            self.skipping -= 1

    def handle_endtag(self, tag):
        if tag in _SKIPPED and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.texts.append(data)


_LETTER = re.compile(r"[^\W\d_]")


def _outside_marks(text: str, marks: tuple[str, str] = (OPEN, CLOSE)) -> str:
    """`text` with every ⟦...⟧ (nested ones too) taken out."""
    marked = re.compile(f"{marks[0]}[^{marks[0]}{marks[1]}]*{marks[1]}")
    while True:
        shorter = marked.sub(" ", text)
        if shorter == text:
            return text
        text = shorter


def leftover(text: str, known: list[str], marks: tuple[str, str] = (OPEN, CLOSE)) -> str:
    """What of `text` (outside the marks) is neither known data nor letter-free."""
    text = _outside_marks(text, marks)
    for value in known:
        text = text.replace(value, " ")
    text = " ".join(text.split())
    return text if _LETTER.search(text) else ""


def unmarked(markup: str, known: list[str], marks: tuple[str, str] = (OPEN, CLOSE)) -> list[str]:
    """Each piece of text a person reads on the page that is not marked (see above)."""
    reader = _Reader()
    reader.feed(markup)
    reader.close()
    known = sorted({value for value in known if value and value.strip()}, key=len, reverse=True)
    found = []
    # Text nodes one after another: a message with tags in it spans several.
    for chunk in _outside_marks(_NODE.join(reader.texts), marks).split(_NODE):
        if rest := leftover(chunk, known, marks):
            found.append(rest)
    for attribute in reader.attributes:
        name, _, value = attribute.partition(": ")
        if rest := leftover(value, known, marks):
            found.append(f"{name} {rest!r}")
    return found


def unmarked_text(text: str, known: list[str], marks: tuple[str, str] = (OPEN, CLOSE)) -> list[str]:
    """The lines of a plain-text email (or a subject) with unmarked words in them."""
    known = sorted({value for value in known if value and value.strip()}, key=len, reverse=True)
    text = _outside_marks(text, marks)
    return [rest for line in text.splitlines() if (rest := leftover(line, known, marks))]
