"""The emulated BitBadges' claims carry metadata as BitBadges does ({name, description,
image}, iMetadata) and a collectionId for a collection's claim; the image points at a
small PNG the sandbox serves itself."""

import struct
import zlib

import pytest

from sandbox.bitbadges import claims as bb_claims
from tests.sandbox.bitbadges_support import PREFIX, BitBadgesTestClient

pytestmark = pytest.mark.django_db


def details(client, claim) -> dict:
    response = BitBadgesTestClient(client).get(f"/api/v0/claim/{claim.claim_id}")
    assert response.status_code == 200
    return response.json()["claim"]


def test_a_claim_carries_metadata_with_an_image_the_sandbox_serves(client):
    claim = bb_claims.claim_create(label="Stargazers", instructions="Star the repository.")
    doc = details(client, claim)
    assert doc["standaloneClaim"] is True and "collectionId" not in doc
    image = doc["metadata"]["image"]
    assert doc["metadata"]["name"] == "Stargazers"
    assert doc["metadata"]["description"] == "Star the repository."
    assert image == f"http://testserver{PREFIX}/images/{claim.claim_id}.png"

    response = client.get(image.removeprefix("http://testserver"))  # no API key needed
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    png = response.content
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (64, 64)
    # The data chunk holds 64 rows of 1 + 64 RGBA pixels: a real, decodable image.
    length = struct.unpack(">I", png[33:37])[0]
    assert png[37:41] == b"IDAT"
    assert len(zlib.decompress(png[41 : 41 + length])) == 64 * (1 + 64 * 4)


def test_an_image_set_on_the_claim_and_a_collection_are_answered_as_set(client):
    claim = bb_claims.claim_create(image="https://img.example/badge.png", collection_id="42")
    doc = details(client, claim)
    assert doc["metadata"]["image"] == "https://img.example/badge.png"
    assert doc["collectionId"] == "42" and doc["standaloneClaim"] is False


def test_an_unknown_claims_image_is_a_404(client):
    response = client.get(f"{PREFIX}/images/{'0' * 32}.png")
    assert response.status_code == 404


def test_a_claim_can_give_no_image_as_api_made_claims_often_do(client):
    claim = bb_claims.claim_create(label="Builders", image=bb_claims.NO_IMAGE)
    doc = details(client, claim)
    assert doc["metadata"] == {"name": "Builders", "description": "", "image": ""}


def test_the_stand_in_for_a_claims_page_on_bitbadges(client):
    claim = bb_claims.claim_create(label="Stargazers", password="hush-not-shown", max_uses=7)
    response = client.get(f"{PREFIX}/claims/{claim.claim_id}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Stargazers" in page and "0 of 7 uses taken" in page
    assert f"{PREFIX}/images/{claim.claim_id}.png" in page
    assert "hush-not-shown" not in page
