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
  and style, and the attributes title, aria-label, aria-description, placeholder, alt,
  label, and the value of buttons) that lies outside ⟦ ⟧, once `known` (what people typed:
  names, emails, addresses...) and text with no letter in it (numbers, punctuation,
  symbols) are set aside.
"""

import contextlib
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
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if any(part in skipped or part.startswith(".") for part in relative.parts[:-1]):
            continue
        if path.suffix in {".py", ".html", ".txt"} and path.is_file():
            target = into / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


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


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def msgids(po: Path) -> set[tuple[str, str]]:
    """Every (msgctxt, msgid) in `po` (obsolete entries and the header left out)."""
    found: set[tuple[str, str]] = set()
    entry: dict[str, str] = {}
    key = ""

    def flush() -> None:
        if entry.get("msgid"):
            found.add((entry.get("msgctxt", ""), entry["msgid"]))
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
        elif not line:
            flush()
            key = ""
    flush()
    return found


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


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command[:2])} failed: {done.stderr[-2000:]}"


def build_pseudo(po: Path, locale_dir: Path) -> Path:
    """locale_dir/en_XA/LC_MESSAGES/django.mo: every message wrapped in ⟦ ⟧ (see above)."""
    folder = locale_dir / "en_XA" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    merged, english, pseudo = (folder / name for name in ("all.po", "en.po", "django.po"))
    # The project's messages first: its wording wins over a library's for the same msgid.
    _run("msgcat", "--use-first", "-o", str(merged), str(po), *map(str, _library_catalogues()))
    _run("msgen", "-o", str(english), str(merged))  # each msgstr = its msgid (plural too)
    # The filter sees each msgstr whole: the mark before its first line, after its last.
    _run(
        "msgfilter", "--keep-header", "-i", str(english), "-o", str(pseudo),
        "sed", "-e", f"1s/^/{OPEN}/", "-e", f"$s/$/{CLOSE}/",
    )  # fmt: skip
    _run("msgfmt", "-o", str(folder / "django.mo"), str(pseudo))
    return folder / "django.mo"


# --- Reading a page -------------------------------------------------------------------

_READ_ATTRIBUTES = {"title", "aria-label", "aria-description", "placeholder", "alt", "label"}
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


_MARKED = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
_LETTER = re.compile(r"[^\W\d_]")


def _outside_marks(text: str) -> str:
    """`text` with every ⟦...⟧ (nested ones too) taken out."""
    while True:
        shorter = _MARKED.sub(" ", text)
        if shorter == text:
            return text
        text = shorter


def leftover(text: str, known: list[str]) -> str:
    """What of `text` (outside the marks) is neither known data nor letter-free."""
    text = _outside_marks(text)
    for value in known:
        text = text.replace(value, " ")
    text = " ".join(text.split())
    return text if _LETTER.search(text) else ""


def unmarked(markup: str, known: list[str]) -> list[str]:
    """Each piece of text a person reads on the page that is not marked (see above)."""
    reader = _Reader()
    reader.feed(markup)
    reader.close()
    known = sorted({value for value in known if value and value.strip()}, key=len, reverse=True)
    found = []
    # Text nodes one after another: a message with tags in it spans several.
    for chunk in _outside_marks(_NODE.join(reader.texts)).split(_NODE):
        if rest := leftover(chunk, known):
            found.append(rest)
    for attribute in reader.attributes:
        name, _, value = attribute.partition(": ")
        if rest := leftover(value, known):
            found.append(f"{name} {rest!r}")
    return found


def unmarked_text(text: str, known: list[str]) -> list[str]:
    """The lines of a plain-text email (or a subject) with unmarked words in them."""
    known = sorted({value for value in known if value and value.strip()}, key=len, reverse=True)
    return [rest for line in _outside_marks(text).splitlines() if (rest := leftover(line, known))]
