"""The API's OpenAPI description (/api/v1/openapi.json) and its docs page (/api/v1/docs).

The description validates (openapi-spec-validator), has a title, version, description
and the bearer security scheme, and lists for every operation the errors it may answer
(400, 401 with WWW-Authenticate, 403, 404, 429 with Retry-After) with their JSON shape.
The docs page is served from this site's own static files (no CDN), under its CSP.
"""

import pytest
from django.test import Client
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.api.api_support import DESCRIPTION_URL, served_description

pytestmark = pytest.mark.one_database

OPERATIONS = {
    ("/api/v1/members/completions", "get"): "completions:read",
    ("/api/v1/members/accounts", "get"): "accounts:read",
    ("/api/v1/claims/{slug}/completions", "get"): "completions:read",
}


def test_the_description_validates_and_says_what_the_api_is():
    description = served_description()
    validate(description)
    info = description["info"]
    assert info["title"] == "Connect & Claim read API"
    assert info["version"] == "1.0.0"
    assert "Authorization: Bearer" in info["description"]
    schemes = description["components"]["securitySchemes"]
    assert schemes == {
        "ApiKeyAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "API key",
            "description": schemes["ApiKeyAuth"]["description"],
        }
    }


@pytest.mark.parametrize("where", sorted(OPERATIONS))
def test_each_operation_documents_its_scope_security_and_errors(where):
    path, method = where
    operation = served_description()["paths"][path][method]
    assert operation["security"] == [{"ApiKeyAuth": []}]
    assert OPERATIONS[where] in operation["description"]
    responses = operation["responses"]
    assert set(responses) == {"200", "400", "401", "403", "404", "429"}
    for status in ("400", "401", "403", "404", "429"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}, status
        assert responses[status]["description"] != "Unknown Status Code"
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_the_description_needs_no_key_and_only_get_is_offered():
    client = Client()
    response = client.get(DESCRIPTION_URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    paths = served_description()["paths"]
    assert {method for operations in paths.values() for method in operations} == {"get"}
    assert client.post("/api/v1/members/completions").status_code == 405
    assert "no CORS" in served_description()["info"]["description"]


def test_the_docs_page_loads_swagger_from_this_site_under_its_csp():
    client = Client()
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Content-Security-Policy" in response
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "cdn" not in page.lower()
    for asset in ("ninja/swagger-ui-bundle.js", "ninja/swagger-ui-init.js", "ninja/swagger-ui.css"):
        assert f"/static/{asset}" in page
        assert client.get(f"/static/{asset}").status_code == 200
    assert '"validatorUrl": null' in page


def _examples(operation):
    """(status, name, value, schema) of every example the operation documents."""
    for status, response in operation["responses"].items():
        media = response["content"]["application/json"]
        if "example" in media:
            yield status, "example", media["example"], media["schema"]
        for name, example in media.get("examples", {}).items():
            yield status, name, example["value"], media["schema"]


@pytest.mark.parametrize("where", sorted(OPERATIONS))
def test_every_documented_example_fits_its_schema(where):
    description = served_description()
    operation = description["paths"][where[0]][where[1]]
    found = list(_examples(operation))
    assert {status for status, *_ in found} == {"200", "400", "401", "403", "404", "429"}
    for status, name, value, schema in found:
        validator = Draft202012Validator(
            {**description, **schema}, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        assert not list(validator.iter_errors(value)), (status, name)
        if status != "200":
            assert name == value["error"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert all("description" in p for p in parameters.values())
    assert "WWW-Authenticate" in operation["responses"]["403"]["headers"]
