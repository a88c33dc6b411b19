"""Contract checks against the published API descriptions in ../shared/specs/.

The specs are data we read, never copy: tests load them from the shared folder beside
the checkout and skip, saying why, where that folder is absent.
"""

import functools
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPECS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "specs"
SPEC_FILES = {
    "pipedream": ("pipedream-openapi.yml", "https://api.pipedream.com"),
    "bitbadges": ("bitbadges-openapi.yaml", "https://api.bitbadges.io"),
}


@functools.cache
def _load(name: str) -> OpenAPI:
    filename, _ = SPEC_FILES[name]
    return OpenAPI.from_file_path(str(SPECS_DIR / filename))


def spec(name: str) -> OpenAPI:
    filename, _ = SPEC_FILES[name]
    if not (SPECS_DIR / filename).is_file():
        pytest.skip(f"{SPECS_DIR / filename} is absent: contract checks need ../shared/specs/")
    return _load(name)


def _split(url_or_path: str, prefix: str) -> tuple[str, dict]:
    parts = urlsplit(url_or_path)
    path = parts.path
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :] or "/"
    return path, dict(parse_qsl(parts.query, keep_blank_values=True))


def _body_bytes(body) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, (dict, list)):
        return json.dumps(body).encode()
    if isinstance(body, str):
        return body.encode()
    return bytes(body)


def _mock_request(
    name, method, url_or_path, headers, prefix, body=None, content_type="application/json"
) -> MockRequest:
    path, args = _split(url_or_path, prefix)
    return MockRequest(
        SPEC_FILES[name][1],
        method.lower(),
        path,
        args=args,
        headers={k.lower(): v for k, v in (headers or {}).items()},
        data=_body_bytes(body),
        content_type=content_type,
    )


def validate_request(
    name: str,
    method: str,
    url_or_path: str,
    *,
    headers: dict | None = None,
    body=None,
    prefix: str = "",
    content_type: str = "application/json",
) -> None:
    """Raise if a request (as a client sends it) does not fit the published description.

    `prefix` is stripped from the path first (e.g. "/sandbox/pipedream").
    """
    request = _mock_request(name, method, url_or_path, headers, prefix, body, content_type)
    spec(name).validate_request(request)


def validate_response(
    name: str,
    method: str,
    url_or_path: str,
    *,
    status: int,
    body,
    request_headers: dict | None = None,
    response_headers: dict | None = None,
    prefix: str = "",
    content_type: str = "application/json",
) -> None:
    """Raise if a response (as a server answers) does not fit the published description."""
    openapi = spec(name)
    request = _mock_request(name, method, url_or_path, request_headers, prefix)
    response = MockResponse(
        _body_bytes(body) or b"",
        status_code=status,
        headers={k.lower(): v for k, v in (response_headers or {}).items()},
        content_type=content_type,
    )
    openapi.validate_response(request, response)
