"""The badge image of a claim, fetched once from the URL BitBadges gives and served from
the site's own origin (claims/bitbadges/badge.py fetches it, claims/views_badge.py
serves it). Apart from Claim so that its bytes are read only when asked for."""

from django.db import models


class BadgeImage(models.Model):
    claim = models.OneToOneField(
        "claims.Claim", on_delete=models.CASCADE, primary_key=True, related_name="badge_image"
    )
    source_url = models.CharField(max_length=1000)
    content_type = models.CharField(max_length=20)
    data = models.BinaryField()
    etag = models.CharField(max_length=64)
    fetched_at = models.DateTimeField()

    class Meta:
        verbose_name = "badge image"

    def __str__(self):
        return f"{self.content_type}, {len(self.data)} bytes"
