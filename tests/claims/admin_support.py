"""Building blocks for the claims admin tests: members, apps, and the change form's post."""

from django.contrib.auth import get_user_model
from django.urls import reverse

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


def claim_form_data(claim, **overrides) -> dict:
    """What the change form posts back for `claim` as stored (secrets left blank)."""
    data = {
        "name": claim.name,
        "slug": claim.slug,
        "description": claim.description,
        "enabled": claim.enabled,
        "required_apps": (
            [str(pk) for pk in claim.required_apps.values_list("pk", flat=True)] if claim.pk else []
        ),
        "cap": claim.cap or "",
        "criterion_app": claim.criterion_app_id or "",
        "criterion_action": claim.criterion_action,
        "criterion_props": "{}",
        "criterion_path": claim.criterion_path,
        "criterion_comparison": claim.criterion_comparison,
        "criterion_value": claim.criterion_value,
        "identity_path": claim.identity_path,
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
    # An unticked checkbox is simply absent from a form post.
    return {
        key: ("on" if value is True else value) for key, value in data.items() if value is not False
    }


def post_new_claim(client, app, **fields):
    """The admin's add form, posted for a BitBadges claim "new" on `app` (a fresh claim
    of the emulated BitBadges behind it, password "right"), with `fields` over that."""
    upstream = bb_sandbox.claim_create(password="right")
    defaults = {
        "password_instance_id": "pwd",
        "password": "right",
        "bitbadges_claim_id": upstream.claim_id,
        "required_apps": [str(app.pk)],
        "criterion_app": str(app.pk),
        "trigger_props": "{}",
    }
    data = claim_form_data(
        Claim(slug="new", name="New", delivery="bitbadges"), **{**defaults, **fields}
    )
    return client.post(reverse("admin:claims_claim_add"), data)


def form_errors(response) -> dict[str, str]:
    """The add or change form's errors by field, when the form was shown again."""
    assert response.status_code == 200, "the form should have been shown again"
    form = response.context["adminform"].form
    return {field: " ".join(messages) for field, messages in form.errors.items()}
