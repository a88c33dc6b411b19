"""GET /c/<slug>/badge: the badge image of an enabled claim, from the site's own origin.

The bytes were fetched once from the URL BitBadges gives (claims/bitbadges/badge.py) and
checked to be PNG, JPEG, GIF or WebP; the type served is the one sniffed from them. Public
like the landing page; a claim that is disabled, unknown or has no image kept is a 404
(its page shows the generated mark instead).
"""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from claims.models import BadgeImage, Claim

MAX_SLUG_LENGTH = 80
CACHE_SECONDS = 7 * 24 * 3600  # the URL carries the image's ETag: a new image, a new URL


@login_not_required
@require_GET
def badge(request, slug: str):
    if len(slug) > MAX_SLUG_LENGTH:
        raise Http404
    claim = Claim.objects.enabled().filter(slug=slug).only("pk").first()
    image = BadgeImage.objects.filter(claim_id=claim.pk).first() if claim else None
    if image is None:
        raise Http404("No badge image")
    etag = f'"{image.etag}"'
    response: HttpResponse
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(bytes(image.data), content_type=image.content_type)
        response["Content-Length"] = str(len(image.data))
    response["ETag"] = etag
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
    return response
