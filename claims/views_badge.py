"""GET (and HEAD) /c/<slug>/badge: a claim's badge image, from the site's own origin.

The bytes were fetched once from the URL BitBadges gives (claims/bitbadges/badge.py) and
checked to be PNG, JPEG, GIF or WebP; the type served is the one sniffed from them. Public
like the landing page for an enabled claim. A disabled claim's image is served only to a
member who earned it (earned stays earned: their home page still shows it), privately; to
anyone else, as for a claim unknown or without an image kept, a 404 (pages show the
generated mark instead). The long public cache is only for the URL pages use, whose `v`
is the image's ETag: a new image is a new URL. Any other URL is cached briefly.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from claims.models import BadgeImage, Claim, Completion

MAX_SLUG_LENGTH = 80
CACHE_SECONDS = 7 * 24 * 3600  # the URL carries the image's ETag: a new image, a new URL
SHORT_CACHE_SECONDS = 300  # no `v`, or an old one: the image may change or go


def _earned(request, claim: Claim) -> bool:
    user = request.user
    return user.is_authenticated and (
        Completion.objects.filter(
            claim=claim, member=user, state=Completion.State.COMPLETED
        ).exists()
    )


@login_not_required
@require_safe
def badge(request, slug: str):
    if len(slug) > MAX_SLUG_LENGTH:
        raise Http404
    claim = Claim.objects.filter(slug=slug).only("pk", "enabled").first()
    if claim is None or (not claim.enabled and not _earned(request, claim)):
        raise Http404("No badge image")
    image = BadgeImage.objects.filter(claim_id=claim.pk).first()
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
    current = request.GET.get("v") == image.etag[:12]
    if not claim.enabled:
        patch_cache_control(response, private=True, max_age=SHORT_CACHE_SECONDS)
    else:
        patch_cache_control(
            response, public=True, max_age=CACHE_SECONDS if current else SHORT_CACHE_SECONDS
        )
    return response
