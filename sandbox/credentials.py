"""The credentials the sandbox hands out and accepts.

Plain constants (no Django imports). The product never reads them from here: `manage.py
sandbox_setup` writes them into the developer's env file (`make run` calls it), and the
check in sandbox/checks.py warns when the product's settings hold something else. They
open nothing real; the sandbox is never mounted in production.
"""

SANDBOX_CREDENTIALS = {
    "client_id": "sandbox-client-id",
    "client_secret": "sandbox-client-secret-not-for-production",
    "project_id": "proj_sandbox",
    "bitbadges_api_key": "sandbox-bitbadges-api-key",
}

# The product's settings (and env file variables) that must hold them for the product to
# talk to the sandbox: name -> the sandbox's value.
SANDBOX_SETTINGS = {
    "PIPEDREAM_CLIENT_ID": SANDBOX_CREDENTIALS["client_id"],
    "PIPEDREAM_CLIENT_SECRET": SANDBOX_CREDENTIALS["client_secret"],
    "PIPEDREAM_PROJECT_ID": SANDBOX_CREDENTIALS["project_id"],
    "BITBADGES_API_KEY": SANDBOX_CREDENTIALS["bitbadges_api_key"],
}
