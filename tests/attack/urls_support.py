"""Every URL the site routes, walked from the resolver, with a path that reaches it."""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

# re_path routes have no converters to fill: a sample path for each, by its full route.
REGEX_SAMPLES = {
    r"^confirm-email/(?P<key>[-:\w]+)/$": "/confirm-email/not-a-real-key/",
    r"^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": "/password/reset/key/1-x/",
    r"sandbox/pipedream/^workflows/(?P<endpoint_id>e[no][a-z0-9-]+)/?$": (
        "/sandbox/pipedream/workflows/en-demo/"
    ),
    r"sandbox/pipedream/^_static/connect-(?P<result>success|error)\.html$": (
        "/sandbox/pipedream/_static/connect-success.html"
    ),
    r"sandbox/pipedream/^.*$": "/sandbox/pipedream/no/such/route",
    r"sandbox/bitbadges/^.*$": "/sandbox/bitbadges/no/such/route",
    r"api/^(?P<rest>.*)$": "/api/no/such/route",
    r"admin/(?P<url>.*)$": "/admin/no-such-page/",
    r"admin/r/<path:content_type_id>/<path:object_id>/": "/admin/r/1/1/",
}
CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class Route:
    route: str  # the joined patterns, as Django prints them
    name: str | None
    callback: object
    regex: bool

    @property
    def admin(self) -> bool:
        return self.route.startswith("admin/")

    @property
    def csrf_exempt(self) -> bool:
        return bool(getattr(self.callback, "csrf_exempt", False))


def routes() -> list[Route]:
    found = []

    def walk(patterns, prefix, regex):
        for pattern in patterns:
            is_regex = regex or isinstance(pattern.pattern, RegexPattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern), is_regex)
            elif isinstance(pattern, URLPattern):
                assert isinstance(pattern.pattern, RoutePattern | RegexPattern)
                found.append(
                    Route(prefix + str(pattern.pattern), pattern.name, pattern.callback, is_regex)
                )

    walk(get_resolver().url_patterns, "", False)
    return found


def sample_path(route: Route, values: dict) -> str:
    """A path for `route`: converters filled from `values` (by name, then converter)."""
    if route.route in REGEX_SAMPLES:
        return REGEX_SAMPLES[route.route]
    if route.route.startswith("admin/^(?P<app_label>"):  # the admin's index of each app
        return "/admin/claims/"
    if "^" in route.route or "(?P" in route.route:
        raise LookupError(f"No sample path for the regex route {route.route!r}: add one.")

    def fill(match):
        name, converter = match["name"], match["converter"] or "str"
        return str(values.get(name, values.get(converter, "x")))

    return "/" + CONVERTER.sub(fill, route.route)


def reaches(path: str, route: Route) -> bool:
    match = resolve(path)
    return match.func is route.callback and match.url_name == route.name
