"""Look-alike text in logins and addresses: invisible format characters, compatibility forms.

`bob\u200b@example.com` (a zero-width space), `bo\u00adb` (a soft hyphen) and full-width
`ｂｏｂ` read as `bob` on screen. Sign-up and the email page refuse them; login reads them
as the plain text they look like, so they name the account they imitate (and count
against its limits) rather than a new one.
"""

import unicodedata


def _is_format(char: str) -> bool:
    # Unicode's "Cf": zero-width spaces and joiners, soft hyphens, direction marks, tags.
    return unicodedata.category(char) == "Cf"


def has_lookalikes(value: str) -> bool:
    """Whether `value` holds a format character or a character NFKC would replace."""
    return any(_is_format(c) for c in value) or unicodedata.normalize("NFKC", value) != value


def plain(value: str) -> str:
    """`value` as it reads: NFKC (full-width letters become ASCII), format characters dropped."""
    return "".join(c for c in unicodedata.normalize("NFKC", value) if not _is_format(c))
