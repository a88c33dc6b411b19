"""Actions (run for a member) and workflows (called at their HTTP trigger).

Where a workflow call may go is checked here, for every caller. A workflow's HTTP trigger
set to OAuth authorization is called with the workspace's bearer token (the one every
other call to Pipedream carries), so whoever receives the call could act as the project.
A claim's workflow URL is typed by staff, so it is trusted only when it names an endpoint
the operator listed in PIPEDREAM_WORKFLOW_ENDPOINTS:

- `https://<id>.m.pipedream.net`, any path and query, with the default port (none given,
  not even :443) and no user name or password; or the bare `<id>`;
- with the sandbox on, `{PIPEDREAM_API_URL}/workflows/<id>/`, its emulated workflows.

`workflow_target` says so or raises `WorkflowNotAllowed`. Claim.clean asks it when a claim
is saved, and `invoke_workflow` asks again before it makes any request, so a claim saved
before the list shrank, or a row written around the form, never gets the token.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from django.conf import settings

from connections.pipedream.client import PipedreamBase, compact
from connections.pipedream.errors import PipedreamError

SETTING = "PIPEDREAM_WORKFLOW_ENDPOINTS"
# An endpoint id: one DNS label, as config/settings.py checks the setting's entries.
ENDPOINT_ID = re.compile(r"e[no][a-z0-9-]{0,60}[a-z0-9]")
PIPEDREAM_HOST = re.compile(r"(?P<id>[a-z0-9-]+)\.m\.pipedream\.net")
_UNSAFE = re.compile(r"[\s\\\x00-\x1f\x7f]")


class Target(NamedTuple):
    endpoint_id: str
    url: str  # what to call: the URL as given, or the bare id's trigger URL


class WorkflowNotAllowed(PipedreamError):
    """The URL is not an allowed workflow endpoint; nothing was sent, and retrying won't help.

    `why` says what is wrong with the URL; str(exc) adds what is allowed.
    """

    summary = "The site may not call this workflow"
    transient = False
    outcome_unknown = False

    def __init__(self, why: str) -> None:
        self.why = why
        super().__init__(why, operation="invoke a workflow", hint=allowed_text())

    def _sentence(self) -> str:
        return (
            f"The workflow was not called, so the project's Pipedream token was not sent: "
            f"{self.why}. {self.hint}."
        )


def allowed_endpoints() -> tuple[str, ...]:
    """The endpoint ids in the setting (a list, or a comma-separated string in a test)."""
    value = getattr(settings, SETTING, ()) or ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(entry.strip() for entry in value if entry.strip())


def allowed_text() -> str:
    """What the operator allows, in a sentence (endpoint ids are not secrets)."""
    allowed = allowed_endpoints()
    if not allowed:
        return (
            f"Workflow delivery needs the operator to list the workflows' endpoint ids in "
            f"{SETTING} (the <id> of https://<id>.m.pipedream.net); none is listed"
        )
    forms = "https://<id>.m.pipedream.net (no port, no user name)"
    if getattr(settings, "SANDBOX", False):
        forms += f" or, in the sandbox, {settings.PIPEDREAM_API_URL}/workflows/<id>/"
    return f"A workflow URL must be {forms} with <id> listed in {SETTING}: {', '.join(allowed)}"


def workflow_target(url: str) -> Target:
    """The endpoint `url` names, when the project's token may be sent there.

    Raises WorkflowNotAllowed, saying why, for anything else.
    """
    url = str(url)
    if _UNSAFE.search(url):
        raise WorkflowNotAllowed("the URL holds spaces, backslashes or control characters")
    if ENDPOINT_ID.fullmatch(url):
        return Target(_listed(url), f"https://{url}.m.pipedream.net")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise WorkflowNotAllowed("this is not a URL") from None
    host = PIPEDREAM_HOST.fullmatch(parts.netloc.lower())
    if host is not None:
        if parts.scheme != "https":
            raise WorkflowNotAllowed("a workflow is called over https only")
        return Target(_listed(host["id"]), url)
    if parts.hostname and parts.hostname.lower().endswith(".m.pipedream.net"):
        raise WorkflowNotAllowed(
            "the URL gives a port, a user name or a password, which a workflow URL never has"
        )
    if getattr(settings, "SANDBOX", False):
        endpoint = _sandbox_endpoint(url)
        if endpoint is not None:
            return Target(_listed(endpoint), url)
    raise WorkflowNotAllowed("the URL is not a Pipedream workflow's HTTP trigger")


def _listed(endpoint: str) -> str:
    if endpoint not in allowed_endpoints():
        raise WorkflowNotAllowed(f"the workflow endpoint {endpoint} is not listed in {SETTING}")
    return endpoint


def _sandbox_endpoint(url: str) -> str | None:
    """The endpoint id of one of the sandbox's emulated workflows, or None."""
    base = urlsplit(f"{settings.PIPEDREAM_API_URL}/workflows/")
    parts = urlsplit(url)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
        return None
    if not parts.path.startswith(base.path):
        return None
    segments = parts.path[len(base.path) :].split("/")
    if any(unquote(segment) in (".", "..") for segment in segments):
        return None
    return segments[0] if ENDPOINT_ID.fullmatch(segments[0]) else None


class Actions(PipedreamBase):
    def run_action(
        self,
        *,
        action_id: str,
        external_user_id: str,
        configured_props: dict[str, Any] | None = None,
        version: str | None = None,
        dynamic_props_id: str | None = None,
        stash_id: str | bool | None = None,
    ) -> dict[str, Any]:
        """Run an action for a user; returns {"exports", "os", "ret", "stash_id"}."""
        operation = f"run action {action_id}"
        payload = compact(
            {
                "id": action_id,
                "external_user_id": external_user_id,
                "configured_props": configured_props,
                "version": version,
                "dynamic_props_id": dynamic_props_id,
                "stash_id": stash_id,
            }
        )
        body = self._request_json(
            "POST", self._project_path("actions", "run"), operation=operation, json_body=payload
        )
        if not isinstance(body, dict):
            raise self._invalid(body, operation, "expected a JSON object")
        for key, default in (("exports", {}), ("os", []), ("ret", None), ("stash_id", None)):
            body.setdefault(key, default)
        return body

    def invoke_workflow(
        self, url: str, *, external_user_id: str, body: Any = None, method: str = "POST"
    ) -> Any:
        """Call a workflow's HTTP trigger as `external_user_id`; returns JSON or text.

        `url` is the trigger's absolute URL (or a bare endpoint id such as `en123abc`),
        and must name an endpoint listed in PIPEDREAM_WORKFLOW_ENDPOINTS: anything else
        raises WorkflowNotAllowed before any request is made (the call carries the
        project's OAuth token). A POST is never retried after it may have reached the
        workflow; when it fails after that, the error's `outcome_unknown` is True.
        """
        url = workflow_target(url).url
        method = method.upper()
        idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        response = self._call(
            method,
            url,
            operation="invoke a workflow",
            idempotent=idempotent,
            json_body=body,
            extra_headers={"X-PD-External-User-ID": external_user_id},
        )
        if not response.content:
            return None
        if "json" in response.headers.get("Content-Type", ""):
            return self._parse_json(response, "invoke a workflow", outcome_unknown=not idempotent)
        return response.text
