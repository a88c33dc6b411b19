"""The admin's CSV exports through the test client: staff with chosen permissions, the
action's post, the streamed file read back."""

import csv
import io

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.http import StreamingHttpResponse
from django.utils import timezone

BOM = "\ufeff".encode()


def staff(client, username: str, *perms: str):
    """A logged-in staff member with exactly `perms` ("app_label.codename")."""
    user = get_user_model().objects.create_user(username=username, is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client.force_login(user)
    return user


def export_action(client, changelist: str, pks=(), *, select_across: bool = False):
    """Post the changelist's "Export selected as CSV" for `pks` (or all, select_across)."""
    data = {"action": "export_csv", "index": "0", ACTION_CHECKBOX_NAME: [str(pk) for pk in pks]}
    if select_across:
        data["select_across"] = "1"
    return client.post(changelist, data)


def read_csv(response, stem: str) -> list[list[str]]:
    """The rows of a streamed CSV download named <stem>-<today>.csv, header first."""
    assert response.status_code == 200, response
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="{stem}-{today}.csv"'
    body = b"".join(response.streaming_content)
    assert body.startswith(BOM)
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    header, *lines = rows
    return [dict(zip(header, line, strict=True)) for line in lines]


def messages_of(response) -> str:
    """The messages the admin queued while answering (a redirect's, before it is followed)."""
    return " ".join(str(message) for message in get_messages(response.wsgi_request))
