"""What the scheduler's account round does besides members' accounts, once for both
of its entry points (`manage.py sync_accounts --all` and `accounts_health_poll`)."""

import logging
from dataclasses import dataclass

from connections.services.accounts import replaced_accounts_delete
from connections.services.errors import UpstreamError
from connections.services.sessions import connect_sessions_expire
from connections.services.site import site_accounts_sync
from connections.services.webhooks import webhooks_recover

logger = logging.getLogger(__name__)


@dataclass
class Upkeep:
    sessions_expired: int = 0
    site_apps_changed: int = 0
    site_sync_failed: str = ""  # Pipedream's reason, when the site's accounts were not read
    replaced_deleted: int = 0
    webhooks_processed: int = 0
    webhooks_settled: int = 0


def upkeep(limit: int | None = None) -> Upkeep:
    """Expire unused Connect sessions; read the site's own accounts (a dead one stops the
    shared triggers on it); delete at Pipedream the accounts reconnects replaced; and
    process connection webhooks a lost task left behind."""
    done = Upkeep(sessions_expired=connect_sessions_expire())
    try:
        done.site_apps_changed = len(site_accounts_sync().apps)
    except UpstreamError as exc:
        done.site_sync_failed = str(exc.cause)
        logger.warning("The site's accounts not synced: %s", exc.cause)
    done.replaced_deleted = replaced_accounts_delete(limit)
    done.webhooks_processed, done.webhooks_settled = webhooks_recover()
    return done
