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
    # This site's developer app at the emulated BitBadges (Sign In with BitBadges).
    "siwbb_client_id": "sandbox-bitbadges-client-id",
    "siwbb_client_secret": "sandbox-bitbadges-client-secret-not-for-production",
}

# The emulated workflows' endpoint ids (sandbox/pipedream/catalogue.py, WORKFLOWS). The
# product calls a workflow only when PIPEDREAM_WORKFLOW_ENDPOINTS lists its id.
SANDBOX_WORKFLOW_ENDPOINTS = (
    "en-sandbox-github",
    "en-sandbox-discord",
    "en-sandbox-claim-github",
    "en-sandbox-claim-github-default",
    "en-sandbox-claim-github-default-json",
    "en-sandbox-claim-github-action",
)

# The product's settings (and env file variables) that must hold them for the product to
# talk to the sandbox: name -> the sandbox's value, as the env file spells it.
SANDBOX_SETTINGS = {
    "PIPEDREAM_CLIENT_ID": SANDBOX_CREDENTIALS["client_id"],
    "PIPEDREAM_CLIENT_SECRET": SANDBOX_CREDENTIALS["client_secret"],
    "PIPEDREAM_PROJECT_ID": SANDBOX_CREDENTIALS["project_id"],
    "BITBADGES_API_KEY": SANDBOX_CREDENTIALS["bitbadges_api_key"],
    "PIPEDREAM_WORKFLOW_ENDPOINTS": ",".join(SANDBOX_WORKFLOW_ENDPOINTS),
}

# Sign In with BitBadges: written into the env file like the others, but an empty value is
# a choice too (Sign In with BitBadges off), so the check warns only about a value that is
# set and is not the sandbox's (sandbox.W003).
SIWBB_SETTINGS = {
    "BITBADGES_CLIENT_ID": SANDBOX_CREDENTIALS["siwbb_client_id"],
    "BITBADGES_CLIENT_SECRET": SANDBOX_CREDENTIALS["siwbb_client_secret"],
}

# Settings that are comma-separated lists: a value holds the sandbox's when it lists each
# of its entries, in any order, beside any of the developer's own. The others must be equal.
LIST_SETTINGS = frozenset({"PIPEDREAM_WORKFLOW_ENDPOINTS"})


def list_entries(value: object) -> list[str]:
    """The entries of a list setting, from the settings (a list) or an env file (text)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set | frozenset):
        return []
    return [str(item).strip() for item in items if str(item).strip()]


def missing_entries(name: str, value: object) -> list[str]:
    """The sandbox's entries of list setting `name` that `value` does not list."""
    present = set(list_entries(value))
    return [entry for entry in list_entries(SANDBOX_SETTINGS[name]) if entry not in present]
