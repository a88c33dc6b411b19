"""Signals other apps listen to, so they never import connections' internals.

All are sent on commit, once the change is in the database, with sender=ConnectedAccount.

- account_connected(account, member, created, session): an account was connected or
  reconnected. `created` is False for a reconnect in place; `session` is the
  ConnectSession that produced it, or None when a sync found it.
- account_disconnected(member, app_slug, pipedream_id): an account is gone, because the
  member disconnected it or a sync no longer found it upstream. The row is deleted.
- account_health_changed(account, member, previous, current): health went from one of
  "healthy" / "unhealthy" / "dead" to another.
- account_health_changing(account, member, previous, current): the same change, sent
  inside the transaction that saves it (with `send`: what a receiver writes commits or
  rolls back with it; the host site's webhooks record their messages here).
- site_accounts_changed(app_slugs): the site's own accounts of these apps changed (one
  connected, removed, or its health changed); sent with sender=SiteAccount.
"""

from django.dispatch import Signal

account_connected = Signal()
account_disconnected = Signal()
account_health_changed = Signal()
account_health_changing = Signal()
site_accounts_changed = Signal()
