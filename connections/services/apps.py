"""The apps catalogue: our App rows as Pipedream describes them, the admin's choices kept."""

from urllib.parse import urljoin

from django.conf import settings
from django.db import transaction

from connections.models import App


def upstream_text(value, limit: int | None = None) -> str:
    """A text from upstream as a text column takes it: a string (whatever JSON type came),
    with NUL, which PostgreSQL refuses, replaced."""
    text = value if isinstance(value, str) else str(value or "")
    return text.replace("\x00", "\ufffd")[:limit]


def app_fields_from_pipedream(data: dict) -> dict:
    """Our App fields from a Pipedream App object (docs §3 'App object')."""
    auth_type = data.get("auth_type") or App.AuthType.NONE
    if auth_type not in App.AuthType.values:
        auth_type = App.AuthType.NONE
    image = str(data.get("img_src") or "").strip()
    if image and not image.startswith(("http://", "https://")):
        image = urljoin(settings.PUBLIC_URL + "/", image)
    if not image.startswith(("http://", "https://")):
        image = ""  # javascript:, data: and the like are no logo of ours
    return {
        "name": upstream_text(data.get("name") or data["name_slug"], 200),
        "image_url": image[:500],
        "description": upstream_text(data.get("description")),
        "auth_type": auth_type,
    }


@transaction.atomic
def app_upsert_from_pipedream(
    *, data: dict, enabled: bool | None = None, order: int | None = None
) -> tuple[App, bool]:
    """Create or refresh an App from Pipedream's catalogue; the admin's choices stay.

    `enabled` and `order` apply only when given (seeding); a sync never flips them.
    """
    wanted = app_fields_from_pipedream(data)
    wanted.update({k: v for k, v in (("enabled", enabled), ("order", order)) if v is not None})
    app, created = App.objects.select_for_update().get_or_create(
        slug=data["name_slug"], defaults=wanted
    )
    if not created:
        changed = [name for name, value in wanted.items() if getattr(app, name) != value]
        for name in changed:
            setattr(app, name, wanted[name])
        if changed:
            app.save(update_fields=[*changed, "updated_at"])
    return app, created
