"""The Pipedream description with ONE correction, for checking trigger answers.

`ConfiguredPropValue` is a `oneOf` whose first branch (`ConfiguredPropValueAny`) matches
every value, so no configured prop can ever be valid under it and every DeployedComponent
would fail; the corrected copy reads that `oneOf` as an `anyOf`. The defect itself is
pinned by a strict xfail in tests/contract/test_pipedream_sandbox_triggers_contract.py."""

import functools

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockResponse

from tests import openapi_support


@functools.cache
def corrected_spec() -> OpenAPI:
    """The Pipedream description with ConfiguredPropValue's oneOf read as anyOf."""
    path = openapi_support.SPECS_DIR / openapi_support.SPEC_FILES["pipedream"][0]
    data = yaml.safe_load(path.read_text())
    value = data["components"]["schemas"]["ConfiguredPropValue"]
    value["anyOf"] = value.pop("oneOf")
    return OpenAPI.from_dict(data)


def corrected_validate_response(
    name,
    method,
    url_or_path,
    *,
    status,
    body,
    request_headers=None,
    response_headers=None,
    prefix="",
    content_type="application/json",
):
    openapi_support.spec(name)  # skips when the description is absent
    request = openapi_support._mock_request(name, method, url_or_path, request_headers, prefix)
    response = MockResponse(
        openapi_support._body_bytes(body) or b"",
        status_code=status,
        headers={k.lower(): v for k, v in (response_headers or {}).items()},
        content_type=content_type,
    )
    corrected_spec().validate_response(request, response)
