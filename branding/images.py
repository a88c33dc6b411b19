"""The logo: a PNG, JPEG or WebP image, recognised by its bytes rather than its name.

No image library is needed: the first bytes name the format and the header gives the
size, and the file is then only ever served back with that format's Content-Type and
`nosniff`, so a browser never reads it as anything else. SVG is refused: it is a
document that can carry scripts. A remote logo URL is not offered either: every page
would make each visitor's browser call a third party.
"""

import struct
from dataclasses import dataclass

from django.core.exceptions import ValidationError

MAX_BYTES = 200 * 1024
MIN_SIDE = 16
MAX_SIDE = 2048

_PNG = b"\x89PNG\r\n\x1a\n"
# JPEG's start-of-frame markers (they hold the size); C4, C8 and CC are other segments.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

_REFUSED = "Upload the logo as a PNG, JPEG or WebP image."


@dataclass(frozen=True)
class Logo:
    content_type: str
    width: int
    height: int


def _png(data: bytes) -> tuple[int, int]:
    if data[12:16] != b"IHDR" or len(data) < 24:
        raise ValueError
    return struct.unpack(">II", data[16:24])


def _jpeg(data: bytes) -> tuple[int, int]:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ValueError
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _JPEG_FRAMES:
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        if length < 2:
            raise ValueError
        at += 2 + length
    raise ValueError


def _webp(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    raise ValueError


def _sniffed(data: bytes) -> tuple[str, tuple[int, int]]:
    if data.startswith(_PNG):
        return "image/png", _png(data)
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", _jpeg(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", _webp(data)
    raise LookupError


def logo_clean(data: bytes) -> Logo:
    """What `data` is, or a ValidationError in words an operator can act on."""
    if len(data) > MAX_BYTES:
        raise ValidationError(
            "The logo is %(kb)d KB; the limit is 200 KB. Export it smaller (a logo is shown "
            "about 32 pixels high).",
            code="logo_too_big",
            params={"kb": -(-len(data) // 1024)},
        )
    try:
        content_type, (width, height) = _sniffed(data)
    except LookupError:
        if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            raise ValidationError(
                "This file is text (SVG, HTML or XML), not a picture. SVG is refused because "
                "it can carry scripts. " + _REFUSED,
                code="logo_text",
            ) from None
        raise ValidationError(
            "This file is not a PNG, JPEG or WebP image. " + _REFUSED, code="logo_format"
        ) from None
    except (ValueError, struct.error):
        raise ValidationError(
            "This image is damaged or cut short; export it again. " + _REFUSED,
            code="logo_damaged",
        ) from None
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ValidationError(
            "The logo is %(width)d×%(height)d pixels; each side must be between %(low)d and "
            "%(high)d.",
            code="logo_size",
            params={"width": width, "height": height, "low": MIN_SIDE, "high": MAX_SIDE},
        )
    return Logo(content_type=content_type, width=width, height=height)
