"""Emailed links: an opaque link of ours that starts a Connect Link flow when opened.

The link shows nothing about whom it is for (the payload is encrypted), lives at most
CONNECT_EMAILED_LINK_HOURS, and works once: it is spent when a connection started
through it has connected an account. Each opening's session gets an id derived from the
link's nonce, so the sessions tell whether the link was used, with no table of its own;
an opening that did not connect (closed, refused) leaves the link usable, a few times.
"""

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from connections import references
from connections.models import App, ConnectedAccount, ConnectSession
from connections.services.errors import LinkExpired, LinkInvalid, LinkUsed

EMAILED_LINK_MAX = datetime.timedelta(days=30)
# Openings of one link that did not connect an account, before it stops working.
EMAILED_LINK_OPENINGS = 5


def emailed_link_lifetime() -> datetime.timedelta:
    """How long a new emailed link works at most (CONNECT_EMAILED_LINK_HOURS)."""
    return datetime.timedelta(hours=getattr(settings, "CONNECT_EMAILED_LINK_HOURS", 72))


@dataclass(frozen=True)
class EmailedLink:
    member: Any
    app: App
    reconnect_pk: int | None
    nonce: str


def emailed_link_make(
    *,
    member,
    app: App,
    expires: datetime.timedelta,
    reconnect_account: ConnectedAccount | None = None,
) -> str:
    """An absolute link of ours that starts a Connect Link flow when opened.

    It works for `expires`, or CONNECT_EMAILED_LINK_HOURS if that is shorter. With
    `reconnect_account` (one of the member's accounts of `app`) the flow reconnects it:
    the payload names it, and opening it checks again that it is the member's.
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
        expires_at=references._now() + min(expires, emailed_link_lifetime()),
        reconnect_pk=reconnect_account.pk if reconnect_account is not None else None,
    )
    return f"{settings.PUBLIC_URL}/connect/l/{signed}/"


def emailed_link_read(signed: str) -> EmailedLink:
    """The link made by emailed_link_make; LinkExpired / LinkInvalid."""
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
        raise LinkInvalid(_("This link's account no longer exists on this site."))
    app = App.objects.enabled().filter(slug=payload["app_slug"]).first()
    if app is None:
        raise LinkInvalid(_("This app can no longer be connected on this site."))
    reconnect = payload["reconnect_pk"]
    return EmailedLink(
        member=member,
        app=app,
        reconnect_pk=reconnect if isinstance(reconnect, int) else None,
        nonce=payload["nonce"],
    )


def emailed_link_open(signed: str) -> tuple:
    """(member, app) for a link made by emailed_link_make; LinkExpired / LinkInvalid."""
    link = emailed_link_read(signed)
    return link.member, link.app


def emailed_link_session_id(link: EmailedLink) -> uuid.UUID:
    """The public id for the session of this opening of `link`; LinkUsed when the link
    has connected an account already, or was opened too often without connecting."""
    try:
        base = uuid.UUID(hex=link.nonce)
    except ValueError:
        raise LinkInvalid() from None
    ids = [uuid.uuid5(base, str(n)) for n in range(EMAILED_LINK_OPENINGS)]
    statuses = dict(
        ConnectSession.objects.filter(public_id__in=ids).values_list("public_id", "status")
    )
    if ConnectSession.Status.CONNECTED in statuses.values():
        raise LinkUsed()
    free = [public_id for public_id in ids if public_id not in statuses]
    if not free:
        raise LinkUsed(
            _(
                "This link has been opened too many times, so it no longer works. Connect "
                "from your accounts page, or ask for a new link."
            )
        )
    return free[0]
