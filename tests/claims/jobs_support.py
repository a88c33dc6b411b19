"""Building blocks for the dry-run job tests: claims, staff, and the admin's pages.

Claims are built here only (`claim_needing`), on the requirements' helpers of
claims_support: one place to change when the way a claim is written down changes.
"""

import csv
import io
import re

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from claims.models import Claim, ClaimJob
from tests.claims.claims_support import add_check, require
from tests.members_support import verify_email


def claim_needing(slug, apps=(), *, checks=(), any_of=(), **fields) -> Claim:
    """A claim (dynamic store delivery: saving it asks no upstream) needing a healthy
    account of each of `apps`; then, for each of `checks` (app, action, path, comparison,
    value), an action run on the member's account of that app whose result must match;
    and a healthy account of one of `any_of`."""
    fields.setdefault("delivery", Claim.Delivery.DYNAMIC_STORE)
    fields.setdefault("store_id", "s")
    claim = Claim(slug=slug, name=fields.pop("name", slug.title()), **fields)
    claim.set_store_secret("x")
    claim.save()
    require(claim, *apps)
    for app, action, path, comparison, value in checks:
        add_check(claim, app, action=action, path=path, comparison=comparison, value=value)
    require(claim, *any_of, group="any")
    return claim


def staff(username, *codenames):
    """A staff user holding only these claims permissions (codenames)."""
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=None, is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="claims", codename__in=codenames)
    )
    return verify_email(user)


def start_dry_run(client, *claims, follow=False):
    """The claims list's action "Dry run", posted for `claims`."""
    return client.post(
        reverse("admin:claims_claim_changelist"),
        {"action": "dry_run", ACTION_CHECKBOX_NAME: [claim.pk for claim in claims], "index": 0},
        follow=follow,
    )


def job_url(job_or_id, view="change") -> str:
    pk = job_or_id.pk if isinstance(job_or_id, ClaimJob) else job_or_id
    return reverse(f"admin:claims_claimjob_{view}", args=[pk])


def csv_of(client, job) -> list[list[str]]:
    response = client.get(job_url(job, "csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def total(text: str, cell: str) -> int:
    """A total on a dry run's page: members, qualify, completed, not-met, no-account..."""
    found = re.search(rf'class="dry-run-{cell}">(\d+)<', text)
    assert found, f"no {cell} total on the dry run page"
    return int(found.group(1))
