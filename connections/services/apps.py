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


# Bounds on what an app's `connect` object may hold: far above any real app's.
MAX_ALLOWED_DOMAINS = 100
MAX_DOMAIN = 253


def connect_from_pipedream(value) -> dict:
    """The app's `connect` object as App.connect keeps it: `allowed_domains` (lowercased
    strings), `base_proxy_target_url` (a string) and `proxy_enabled` (a boolean), each only
    when Pipedream gives it in that type; anything else is left out. Pipedream's app API
    answers it (docs: connect/api-proxy, "When to use relative vs full URLs"), though the
    published OpenAPI description's App schema does not list it."""
    if not isinstance(value, dict):
        return {}
    kept: dict = {}
    domains = value.get("allowed_domains")
    if isinstance(domains, list):
        kept["allowed_domains"] = [
            upstream_text(domain.strip().lower(), MAX_DOMAIN)
            for domain in domains[:MAX_ALLOWED_DOMAINS]
            if isinstance(domain, str) and domain.strip()
        ]
    base = value.get("base_proxy_target_url")
    if isinstance(base, str):
        kept["base_proxy_target_url"] = upstream_text(base.strip(), 500)
    if isinstance(value.get("proxy_enabled"), bool):
        kept["proxy_enabled"] = value["proxy_enabled"]
    return kept


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
    fields = {
        "name": upstream_text(data.get("name") or data["name_slug"], 200),
        "image_url": image[:500],
        "description": upstream_text(data.get("description")),
        "auth_type": auth_type,
    }
    # An App object without `connect` (an account's embedded app may be one) leaves the
    # stored one as it is; a `connect` of another type is Pipedream saying nothing: {}.
    if "connect" in data:
        fields["connect"] = connect_from_pipedream(data["connect"])
    return fields


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
