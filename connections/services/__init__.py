"""Writes for Pipedream Connect: everything that changes what the site knows.

This package is the app's public face: views, admin, commands, tasks and other apps use
`from connections import services` (or `from connections.services import <name>`), and
every public name is re-exported here from the module of its subject:

- errors: ConnectError and the errors a member can act on (UpstreamError, ...);
- apps: the apps catalogue (app_upsert_from_pipedream, ...);
- sessions: Connect sessions and their tokens (connect_session_start, ...);
- accounts: members' connected accounts (account_record, accounts_sync, ...);
- links: emailed links (emailed_link_make, emailed_link_read, ...);
- webhooks: processing stored connection webhooks (webhook_process, webhooks_recover);
- environment: what operators are told about Pipedream's development environment;
- site: the site's own accounts, connected by an operator (site_accounts_sync, ...);
- upkeep: the scheduler's round besides members' accounts (upkeep).

The modules import each other by their full names, never this package, and none
imports the tasks or the views. The code calls the names in their own modules, so a
test that patches one patches it there (connections.services.accounts.<name>), not here.
"""

from connections.services.accounts import (
    SyncResult,
    account_disconnect,
    account_record,
    accounts_sync,
    replaced_accounts_delete,
)
from connections.services.apps import app_fields_from_pipedream, app_upsert_from_pipedream
from connections.services.environment import (
    DEVELOPMENT_LIMITS,
    public_development_warning,
)
from connections.services.errors import (
    AccountNotFound,
    AppNotAvailable,
    ConnectError,
    EmailNotVerified,
    ForeignAccount,
    LinkExpired,
    LinkInvalid,
    LinkUsed,
    TooManyAttempts,
    UpstreamError,
    attempt_count,
    failure_sentence,
)
from connections.services.links import (
    EMAILED_LINK_MAX,
    EmailedLink,
    emailed_link_lifetime,
    emailed_link_make,
    emailed_link_open,
    emailed_link_read,
    emailed_link_session_id,
)
from connections.services.sessions import (
    NO_REASON,
    connect_link_for,
    connect_return_hit,
    connect_session_fail,
    connect_session_for_reference,
    connect_session_for_webhook,
    connect_session_start,
    connect_sessions_expire,
    iframe_url_for,
    session_account_found,
    session_mark_done,
    session_reference,
    session_spent,
    token_digest,
)
from connections.services.site import (
    SiteSyncResult,
    site_account_disconnect,
    site_account_for,
    site_accounts_sync,
    site_connect_link,
    site_external_user_id,
)
from connections.services.upkeep import Upkeep, upkeep
from connections.services.webhooks import (
    STALE_AFTER,
    connect_failure_notice,
    token_matches,
    webhook_process,
    webhooks_recover,
)

__all__ = [
    "NO_REASON",
    "DEVELOPMENT_LIMITS",
    "EMAILED_LINK_MAX",
    "STALE_AFTER",
    "AccountNotFound",
    "AppNotAvailable",
    "ConnectError",
    "EmailedLink",
    "EmailNotVerified",
    "ForeignAccount",
    "LinkExpired",
    "LinkInvalid",
    "LinkUsed",
    "SiteSyncResult",
    "SyncResult",
    "TooManyAttempts",
    "attempt_count",
    "Upkeep",
    "UpstreamError",
    "account_disconnect",
    "account_record",
    "accounts_sync",
    "app_fields_from_pipedream",
    "app_upsert_from_pipedream",
    "connect_failure_notice",
    "connect_link_for",
    "connect_return_hit",
    "connect_session_fail",
    "connect_session_for_reference",
    "connect_session_for_webhook",
    "connect_session_start",
    "connect_sessions_expire",
    "emailed_link_lifetime",
    "emailed_link_make",
    "emailed_link_open",
    "emailed_link_read",
    "emailed_link_session_id",
    "failure_sentence",
    "iframe_url_for",
    "public_development_warning",
    "replaced_accounts_delete",
    "session_account_found",
    "session_mark_done",
    "session_reference",
    "session_spent",
    "site_account_disconnect",
    "site_account_for",
    "site_accounts_sync",
    "site_connect_link",
    "site_external_user_id",
    "token_digest",
    "token_matches",
    "upkeep",
    "webhook_process",
    "webhooks_recover",
]
