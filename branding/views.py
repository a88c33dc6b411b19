"""The brand's two files: /brand.css (the accent colour, as CSS custom properties: the
CSP forbids inline styles) and /brand/logo (the uploaded image). Both are public (the
login page shows them), versioned by a ?v= that changes with the brand, and answer a
matching If-None-Match with 304 without reading the database."""

import hashlib

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.views.decorators.http import require_safe

from branding.colours import link_shade
from branding.selectors import brand_current, brand_logo

YEAR = 365 * 24 * 3600


def _etag(value: str) -> str:
    return f'"{value}"'


def _cached(request: HttpRequest, response: HttpResponse, version: str) -> HttpResponse:
    response["ETag"] = _etag(version)
    # The versioned URL never changes its content; an unversioned or old one is checked.
    if request.GET.get("v") == version:
        response["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    else:
        response["Cache-Control"] = "public, no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _not_modified(request: HttpRequest, version: str) -> bool:
    asked = request.headers.get("If-None-Match", "")
    return _etag(version) in (tag.strip().removeprefix("W/") for tag in asked.split(","))


def _rgb(colour: str) -> str:
    return " ".join(str(int(colour[i : i + 2], 16)) for i in (1, 3, 5))


@login_not_required
@require_safe
def brand_css(request: HttpRequest) -> HttpResponse:
    brand = brand_current()
    if _not_modified(request, brand.version):
        return _cached(request, HttpResponseNotModified(), brand.version)
    # The accent was validated (#rrggbb) before it was stored or started with. Text in it
    # on the light palette's tints uses a shade that passes there (colours.py).
    css = (
        f":root {{ --accent: {brand.accent}; --accent-text: {link_shade(brand.accent)}; "
        "--accent-fg: #fff; "
        f"--accent-focus: rgb({_rgb(brand.accent)} / .35); }}\n"
        "input:focus, button:focus-visible, a:focus-visible { outline-color: var(--accent-focus); }\n"
        ".brand-logo { height: 32px; width: auto; max-width: 160px; vertical-align: middle; "
        "object-fit: contain; }\n"
        ".support-email { white-space: nowrap; }\n"
    )
    return _cached(
        request, HttpResponse(css, content_type="text/css; charset=utf-8"), brand.version
    )


@login_not_required
@require_safe
def logo(request: HttpRequest) -> HttpResponse:
    digest = brand_current().logo_digest
    if not digest:
        raise Http404("This site has no logo.")
    if _not_modified(request, digest):
        return _cached(request, HttpResponseNotModified(), digest)
    found = brand_logo()
    if found is None:  # removed since the brand was cached
        raise Http404("This site has no logo.")
    data, content_type = found
    # The ETag is the bytes' own digest, even if the cached brand is a moment behind.
    digest = hashlib.sha256(data).hexdigest()[:16]
    response = HttpResponse(data, content_type=content_type)
    # Opened on its own, the file is an image and nothing else.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = "inline; filename=logo"
    return _cached(request, response, digest)
