"""Who an external user id is, for the sandbox control page: the site's member by username.

Pipedream knows the site's members only by their external user id (a random UUID), and so
does the sandbox. The control page is for the person running the demo, who thinks in
usernames ("star as alice"), so it looks the ids up in the site's user model. The model is
reached through Django's registry (settings.AUTH_USER_MODEL, its `external_id` and
`username` fields), never by importing the app: the sandbox stays a stand-in that the
product could run without. An id that names nobody (an external caller's, a deleted
member's) stays as it is; the site's own external user (PIPEDREAM_SITE_EXTERNAL_USER_ID)
reads "the site".

One query for any number of ids.
"""

import uuid
from collections.abc import Iterable

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist

SITE = "the site"


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text))
    except (TypeError, ValueError, AttributeError):
        return None


def member_names(external_ids: Iterable[str]) -> dict[str, str]:
    """{external id: username (or "the site")} for the ids that name someone."""
    wanted = {str(value) for value in external_ids if value}
    names: dict[str, str] = {}
    site_id = getattr(settings, "PIPEDREAM_SITE_EXTERNAL_USER_ID", "")
    if site_id and site_id in wanted:
        names[site_id] = SITE
    by_uuid = {parsed: text for text in wanted if (parsed := _uuid(text)) is not None}
    if not by_uuid:
        return names
    try:
        User = apps.get_model(settings.AUTH_USER_MODEL)
        User._meta.get_field("external_id")
    except (LookupError, ValueError, FieldDoesNotExist):  # no such model or field: ids only
        return names
    for external_id, username in User.objects.filter(external_id__in=list(by_uuid)).values_list(
        "external_id", "username"
    ):
        text = by_uuid.get(
            external_id if isinstance(external_id, uuid.UUID) else _uuid(external_id)
        )
        if text is not None:
            names[text] = username
    return names


def name_rows(rows: Iterable, id_of, names: dict[str, str]) -> None:
    """Set `member_name` on each row: the name of the external id `id_of(row)`, or ""."""
    for row in rows:
        row.member_name = names.get(str(id_of(row) or ""), "")
