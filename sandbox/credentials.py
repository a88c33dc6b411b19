"""The credentials the sandbox hands out and accepts.

Plain constants (no Django imports) so that settings can default to them in sandbox
mode: with nothing configured, the app and `pipedream_check` work against the sandbox.
They open nothing real; the sandbox is never mounted in production.
"""

SANDBOX_CREDENTIALS = {
    "client_id": "sandbox-client-id",
    "client_secret": "sandbox-client-secret-not-for-production",
    "project_id": "proj_sandbox",
    "bitbadges_api_key": "sandbox-bitbadges-api-key",
}
