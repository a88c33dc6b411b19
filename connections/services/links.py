"""Emailed links: a signed link of ours that starts a Connect Link flow when opened."""

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model

from connections import references
from connections.models import App, ConnectedAccount
from connections.services.errors import LinkExpired, LinkInvalid

EMAILED_LINK_MAX = datetime.timedelta(days=30)


def emailed_link_make(
    *,
    member,
    app: App,
    expires: datetime.timedelta,
    reconnect_account: ConnectedAccount | None = None,
) -> str:
    """An absolute link of ours that starts a Connect Link flow when opened.

    With `reconnect_account` (one of the member's accounts of `app`) the flow reconnects
    it: the link names it, and opening it checks again that it is the member's.
    """
    if not datetime.timedelta(0) < expires <= EMAILED_LINK_MAX:
        raise ValueError("A link lives between a minute and 30 days")
    if reconnect_account is not None and (
        reconnect_account.member_id != member.pk or reconnect_account.app_id != app.pk
    ):
        raise ValueError("The account to reconnect must be the member's, of this app")
    signed = references.emailed_link_sign(
        member_pk=member.pk,
        external_id=str(member.external_id),
        app_slug=app.slug,
        expires_at=references._now() + expires,
    )
    link = f"{settings.PUBLIC_URL}/connect/l/{signed}/"
    return f"{link}?account={reconnect_account.pk}" if reconnect_account is not None else link


def emailed_link_open(signed: str) -> tuple:
    """(member, app) for a link made by emailed_link_make; LinkExpired / LinkInvalid."""
    try:
        payload = references.emailed_link_read(signed)
    except references.EmailedLinkExpired:
        raise LinkExpired() from None
    except references.EmailedLinkInvalid:
        raise LinkInvalid() from None
    member = (
        get_user_model()
        .objects.filter(pk=payload["member_pk"], external_id=payload["external_id"], is_active=True)
        .first()
    )
    if member is None:
        raise LinkInvalid("This link's account no longer exists on this site.")
    app = App.objects.enabled().filter(slug=payload["app_slug"]).first()
    if app is None:
        raise LinkInvalid("This app can no longer be connected on this site.")
    return member, app
