"""Contract checks: every answer of the sandbox must fit Pipedream's published description.

`PipedreamClient` (Django's test client) and `LivePipedream` (requests, against
live_server) call the emulated API and run `check_response()` on every answer before a
test sees it, so "each response is valid against the published description" holds for
the whole suite, not for a sample.

Where the description cannot judge, the check says what it does instead:
- statuses the description does not declare for an operation (400, 401, 404, 405)
  are checked against its `ErrorResponse` schema ({"error": str, ...});
- `/v1/connect/{project_id}/users/{external_user_id}/accounts` is newer than the
  description (docs §3: a bare array of Account): each item is checked as an Account;
- the Connect-token routes without a project id are checked as their {project_id}
  form (the SDKs collapse `/v1/connect//accounts` the same way, docs §0);
- workflow endpoints are not part of the REST API: only error bodies are checked;
- a path or method the description lacks must be a JSON 404 or 405 error.
"""

import json
import re
from urllib.parse import urlencode, urlsplit

import requests
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.schemas import oas30_read_schema_validators_factory

from sandbox.credentials import SANDBOX_CREDENTIALS
from tests.openapi_support import spec, validate_response

PREFIX = "/sandbox/pipedream"
PROJECT_ID = SANDBOX_CREDENTIALS["project_id"]
# The OAuth client-credentials grant the sandbox accepts.
CREDENTIALS = {
    "grant_type": "client_credentials",
    "client_id": SANDBOX_CREDENTIALS["client_id"],
    "client_secret": SANDBOX_CREDENTIALS["client_secret"],
}
# The one error body the docs report that is not a string (docs §0, pipedream#18638).
ACCOUNT_MISMATCH = {"error": {"account": ["account and user mismatch"]}}

_USER_ACCOUNTS = re.compile(r"^/v1/connect/[^/]+/users/[^/]+/accounts$")
_WORKFLOW = re.compile(r"^/workflows/")
_PROJECTLESS = re.compile(r"^/v1/connect/(accounts(/[^/]+)?|actions/run)$")


def validate_schema(name: str, value) -> None:
    """Raise if `value` does not fit components/schemas/`name` of the Pipedream description."""
    openapi = spec("pipedream")
    schema = openapi.spec / "components" / "schemas" / name
    oas30_read_schema_validators_factory.create(openapi.spec, schema).validate(value)


def _error_body(status: int, body: bytes, error_shape: str) -> None:
    data = json.loads(body)
    if error_shape == "account_mismatch":
        assert data == ACCOUNT_MISMATCH, data
        return
    validate_schema("ErrorResponse", data)


def check_response(
    method: str,
    url: str,
    *,
    status: int,
    body: bytes,
    content_type: str | None,
    request_headers: dict,
    response_headers: dict,
    error_shape: str = "string",
) -> None:
    """Raise unless the answer fits the published description (see the module docstring)."""
    path = urlsplit(url).path
    if path.startswith(PREFIX):
        path = path[len(PREFIX) :]
    query = urlsplit(url).query
    mimetype = (content_type or "").split(";")[0].strip() or None
    if _WORKFLOW.match(path):
        if status == 400 and mimetype == "text/plain":
            # A custom-response workflow that threw before $.respond (docs-v2 triggers.mdx
            # "Errors with HTTP Responses"): Pipedream's plain-text 400.
            assert body == b"No $.respond called in workflow", body
        elif status >= 400:
            _error_body(status, body, error_shape)
        return
    if _PROJECTLESS.match(path):
        path = path.replace("/v1/connect/", f"/v1/connect/{PROJECT_ID}/", 1)
    if _USER_ACCOUNTS.match(path) and method.upper() == "GET":
        if status == 200:
            items = json.loads(body)
            assert isinstance(items, list), items
            for item in items:
                validate_schema("Account", item)
        elif status >= 400 and status != 429:
            _error_body(status, body, error_shape)
        return
    full = f"{path}?{query}" if query else path
    try:
        validate_response(
            "pipedream",
            method,
            full,
            status=status,
            body=body,
            request_headers=request_headers,
            response_headers=response_headers,
            content_type=mimetype or "application/json",
        )
    except ResponseNotFound:
        assert status >= 400, f"{method} {path} answered {status}, which is not described"
        _error_body(status, body, error_shape)
    except (PathNotFound, OperationNotFound):
        # Not an operation of the API: the sandbox must say so the way the API would.
        assert status in (404, 405), f"{method} {path} is not described, yet answered {status}"
        _error_body(status, body, error_shape)


class PipedreamClient:
    """The emulated API through Django's test client, every answer contract-checked."""

    def __init__(
        self, client, *, token: str | None = None, environment: str | None = "development"
    ):
        self.client = client
        self.token = token
        self.environment = environment

    def with_token(self, token: str | None, environment: str | None = "development"):
        return PipedreamClient(self.client, token=token, environment=environment)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json_body=None,
        form: dict | None = None,
        headers: dict | None = None,
        error_shape: str = "string",
        broken: bool = False,
    ):
        """Send a request; `broken=True` asserts the answer does NOT fit (malformed JSON)."""
        path = path.replace("{pid}", PROJECT_ID)
        url = PREFIX + path + (f"?{urlencode(params, doseq=True)}" if params else "")
        sent = {}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        if self.environment:
            sent["x-pd-environment"] = self.environment
        sent.update(headers or {})
        sent = {k: v for k, v in sent.items() if v is not None}
        kwargs = {"headers": sent}
        if json_body is not None:
            kwargs.update(data=json.dumps(json_body), content_type="application/json")
        elif form is not None:
            kwargs.update(data=urlencode(form), content_type="application/x-www-form-urlencoded")
        response = getattr(self.client, method.lower())(url, **kwargs)
        try:
            check_response(
                method,
                url,
                status=response.status_code,
                body=response.content,
                content_type=response.get("Content-Type"),
                request_headers=sent,
                response_headers=dict(response.headers),
                error_shape=error_shape,
            )
        except Exception:
            if broken:
                return response
            raise
        assert not broken, f"{method} {path} was expected to break the contract, and did not"
        return response

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


class LivePipedream:
    """The emulated API over real HTTP (live_server), every answer contract-checked."""

    def __init__(self, base_url: str, *, token: str | None = None, environment="development"):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.environment = environment

    def request(self, method: str, path: str, *, timeout: float = 10, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if self.environment:
            headers.setdefault("x-pd-environment", self.environment)
        url = self.base_url + PREFIX + path.replace("{pid}", PROJECT_ID)
        # A connection per request (requests.request closes it): a kept-alive one would
        # pin a live_server thread past the test.
        response = requests.request(method, url, headers=headers, timeout=timeout, **kwargs)
        check_response(
            method,
            response.url,
            status=response.status_code,
            body=response.content,
            content_type=response.headers.get("Content-Type"),
            request_headers=headers,
            response_headers=dict(response.headers),
        )
        return response
