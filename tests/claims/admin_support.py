"""Building blocks for the claims admin tests: members, apps, and the change form's post."""

import json

from django.contrib.auth import get_user_model
from django.urls import reverse

from claims.admin.requirements import RequirementForm
from claims.models import Claim
from connections.models import App
from sandbox.bitbadges import claims as bb_sandbox
from tests.members_support import verify_email


def make_member(username, **fields):
    return verify_email(
        get_user_model().objects.create_user(
            # No password (unusable): hashing one per member would slow the suite for nothing.
            username=username,
            email=f"{username}@example.com",
            password=None,
            **fields,
        )
    )


def make_app(slug, name=None, **fields):
    return App.objects.create(slug=slug, name=name or slug.title(), enabled=True, **fields)


# What the requirements inline posts for each requirement: the admin form's own fields.
REQUIREMENT_FIELDS = RequirementForm.Meta.fields


def requirement_rows(claim) -> list[dict]:
    """The claim's stored requirements as the inline posts them back."""
    if not claim.pk:
        return []
    rows = []
    for requirement in claim.requirements.all():
        row = {name: getattr(requirement, name) for name in REQUIREMENT_FIELDS}
        row.update(id=requirement.pk, app=requirement.app_id)
        rows.append(row)
    return rows


def requirements_data(rows, *, initial: int = 0) -> dict:
    """The inline formset's post: `rows` are dicts of requirement fields (app as an App
    or its pk, props as a dict or JSON text; `id` for a stored one, `DELETE` to remove)."""
    data = {
        "requirements-TOTAL_FORMS": str(len(rows)),
        "requirements-INITIAL_FORMS": str(initial),
        "requirements-MIN_NUM_FORMS": "1",
        "requirements-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        row = {"group": "all", "kind": "account", "props": "{}", **row}
        for name, value in row.items():
            if name == "app" and hasattr(value, "pk"):
                value = value.pk
            if name == "props" and isinstance(value, dict):
                value = json.dumps(value)
            if value is None or value is False:
                continue
            data[f"requirements-{i}-{name}"] = "on" if value is True else str(value)
    return data


def claim_form_data(claim, requirements=None, **overrides) -> dict:
    """What the change form posts back for `claim` as stored (secrets left blank), with
    its requirements as stored unless `requirements` (rows, see requirements_data)."""
    stored = requirement_rows(claim)
    rows = stored if requirements is None else requirements
    data = {
        "name": claim.name,
        "slug": claim.slug,
        "description": claim.description,
        "enabled": claim.enabled,
        "cap": claim.cap or "",
        "trigger_app": claim.trigger_app_id or "",
        "trigger_scope": claim.trigger_scope,
        "delivery": claim.delivery,
        "bitbadges_claim_id": claim.bitbadges_claim_id,
        "password_instance_id": claim.password_instance_id,
        "password": "",
        "clear_password": False,
        "store_id": claim.store_id,
        "store_secret": "",
        "clear_store_secret": False,
        "workflow_url": claim.workflow_url,
        "starts_at_0": "",
        "starts_at_1": "",
        "ends_at_0": "",
        "ends_at_1": "",
        "_save": "Save",
    }
    data.update(overrides)
    initial = sum(1 for row in rows if row.get("id"))
    data.update(requirements_data(rows, initial=initial))
    if requirements is not None:
        # Stored ones left out of `requirements` are deleted.
        kept = {row.get("id") for row in rows}
        extra = [dict(row, DELETE=True) for row in stored if row["id"] not in kept]
        if extra:
            all_rows = [*extra, *rows]
            data = {k: v for k, v in data.items() if not k.startswith("requirements-")}
            data.update(requirements_data(all_rows, initial=len(extra) + initial))
    # An unticked checkbox is simply absent from a form post.
    return {
        key: ("on" if value is True else value) for key, value in data.items() if value is not False
    }


def post_new_claim(client, app, requirement=None, **fields):
    """The admin's add form, posted for a BitBadges claim "new" (a fresh claim of the
    emulated BitBadges behind it, password "right") with one requirement on `app` (its
    fields in `requirement`: a healthy account unless they say otherwise), with
    `fields` over that."""
    upstream = bb_sandbox.claim_create(password="right")
    defaults = {
        "password_instance_id": "pwd",
        "password": "right",
        "bitbadges_claim_id": upstream.claim_id,
        "trigger_props": "{}",
    }
    row = {"app": app, **(requirement or {})}
    if "kind" not in row and (row.get("action") or row.get("proxy_url")):
        row["kind"] = "proxy" if row.get("proxy_url") else "action"
    data = claim_form_data(
        Claim(slug="new", name="New", delivery="bitbadges"),
        requirements=[row],
        **{**defaults, **fields},
    )
    return client.post(reverse("admin:claims_claim_add"), data)


def form_errors(response) -> dict[str, str]:
    """The add or change form's errors by field, when the form was shown again: the
    claim's fields, each requirement's under its own field name (the first requirement
    with one wins), and what is wrong with the requirements together under
    "requirements"."""
    assert response.status_code == 200, "the form should have been shown again"
    form = response.context["adminform"].form
    errors = {field: " ".join(messages) for field, messages in form.errors.items()}
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        for each in formset.forms:
            for field, messages in each.errors.items():
                errors.setdefault(field, " ".join(messages))
        if formset.non_form_errors():
            errors["requirements"] = " ".join(formset.non_form_errors())
    return errors
