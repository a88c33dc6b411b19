"""Odd values in every URL's parameters: each route the resolver knows, with its
converters filled with huge numbers, very long or strange strings, GET and POST (with a
valid CSRF token), as a member and as staff. Never a 500 (the watch fails the test on
one): a 404, 400, 403, 405 or a page."""

import pytest
from django.test import Client

from tests.attack.urls_support import REGEX_SAMPLES, reaches, routes, sample_path

pytestmark = pytest.mark.django_db

ODD = {
    "huge": {"int": 10**25, "slug": "a" * 3000, "str": "b" * 3000, "path": "9" * 30},
    "unicode": {"int": 0, "slug": "x-y", "str": "ｈé\u202e<script>", "path": "é/ü"},
    "dots": {"int": 2**63, "slug": "--", "str": "..%2F..", "path": "../../etc/passwd"},
}
SKIP = (
    "sandbox/pipedream/",  # the emulated upstream: its own contract tests
    "sandbox/bitbadges/",
    "admin/logout/",  # logs the staff member out
    "logout/",
)


@pytest.mark.parametrize("kind", list(ODD))
def test_odd_path_values_never_cause_a_500(member, staff, kind):
    as_member = Client()
    as_member.force_login(member)
    as_staff = Client()
    as_staff.force_login(staff)
    tried = 0
    for route in routes():
        if route.route.startswith(SKIP) or route.route in REGEX_SAMPLES:
            continue
        if "<" not in route.route:
            continue  # nothing to fill
        path = sample_path(route, ODD[kind])
        try:
            if not reaches(path, route):
                continue  # the value does not fit the converter: another route or a 404
        except Exception:  # noqa: BLE001 - Resolver404
            continue
        client = as_staff if route.admin or route.route.startswith("sandbox/") else as_member
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            assert response.status_code < 500 or response.status_code in (502, 503), (
                method,
                path[:120],
                response.status_code,
            )
            tried += 1
    assert tried >= 20
