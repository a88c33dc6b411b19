"""BitBadges addresses: validation with messages a person can act on, and conversion.

BitBadges accepts the same 20-byte account in two spellings: Ethereum's `0x` + 40 hex
digits (EIP-55 checksum when the letters are mixed-case) and bech32 with the prefix
`bb` (`bb1...`). docs/fidelity.md, "Addresses and stores", names the sources.
"""

import re

import bech32
from Crypto.Hash import keccak
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

BECH32_HRP = "bb"
BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_HEX_RE = re.compile(r"^[0-9a-fA-F]*$")
MAX_ADDRESS_LENGTH = 90  # bech32's own upper bound


def _keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def eth_checksum(hex40: str) -> str:
    """The EIP-55 spelling of 40 hex digits (without the 0x), returned with 0x."""
    lower = hex40.lower()
    digest = _keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        ch.upper() if ch.isalpha() and int(digest[i], 16) >= 8 else ch for i, ch in enumerate(lower)
    )


def _validate_eth(value: str) -> bytes:
    digits = value[2:]
    if not _HEX_RE.match(digits):
        bad = next(ch for ch in digits if ch not in "0123456789abcdefABCDEF")
        raise ValidationError(
            _("An 0x address holds only the hex digits 0-9 and a-f; %(char)r is not one of them."),
            code="address_not_hex",
            params={"char": bad},
        )
    if len(digits) != 40:
        raise ValidationError(
            _("An 0x address has exactly 40 hex digits after the 0x; this one has %(count)d."),
            code="address_length",
            params={"count": len(digits)},
        )
    is_mixed = digits != digits.lower() and digits != digits.upper()
    if is_mixed and "0x" + digits != eth_checksum(digits):
        raise ValidationError(
            _(
                "The upper- and lower-case letters of this 0x address do not match its EIP-55 "
                "checksum, so it probably has a typo. Copy it again from your wallet, or enter it "
                "all in lower case."
            ),
            code="address_checksum",
        )
    return bytes.fromhex(digits)


def _validate_bech32(value: str) -> bytes:
    if value != value.lower() and value != value.upper():
        raise ValidationError(
            _("A bb1 address is written all in lower case (or all in upper case), never mixed."),
            code="address_mixed_case",
        )
    text = value.lower()
    hrp, _sep, data_part = text.rpartition("1")
    if hrp != BECH32_HRP:
        raise ValidationError(_("A BitBadges address starts with bb1."), code="address_prefix")
    bad = [ch for ch in data_part if ch not in BECH32_CHARSET]
    if bad:
        raise ValidationError(
            _(
                "%(char)r cannot appear in a bb1 address (bech32 never uses 1, b, i or o after "
                "the prefix)."
            ),
            code="address_charset",
            params={"char": bad[0]},
        )
    data = [BECH32_CHARSET.find(ch) for ch in data_part]
    if len(data) < 6 or not bech32.bech32_verify_checksum(hrp, data):
        raise ValidationError(
            _(
                "This bb1 address fails its checksum, so a character is wrong or missing. "
                "Copy it again from BitBadges."
            ),
            code="address_checksum",
        )
    decoded = bech32.convertbits(data[:-6], 5, 8, False)
    if decoded is None or len(decoded) != 20:
        raise ValidationError(
            _("This bb1 address has a valid checksum but does not hold a 20-byte account."),
            code="address_length",
        )
    return bytes(decoded)


def parse_address(value: str) -> bytes:
    """Return the 20 account bytes of a BitBadges address, or raise ValidationError."""
    if not isinstance(value, str):
        raise ValidationError(_("Enter the address as text."), code="address_type")
    value = value.strip()
    if not value:
        raise ValidationError(_("Enter an address."), code="address_empty")
    if len(value) > MAX_ADDRESS_LENGTH:
        raise ValidationError(
            ngettext(
                "That is far too long to be an address (%(count)d character).",
                "That is far too long to be an address (%(count)d characters).",
                len(value),
            ),
            code="address_too_long",
            params={"count": len(value)},
        )
    if value[:2] in ("0x", "0X"):
        return _validate_eth(value)
    if value[:3].lower() == "bb1":
        return _validate_bech32(value)
    raise ValidationError(
        _("A BitBadges address starts with 0x (40 hex digits, e.g. from MetaMask) or with bb1."),
        code="address_format",
    )


def validate_address(value: str) -> None:
    """Model/form validator."""
    parse_address(value)


def normalize_address(value: str) -> str:
    """The canonical spelling to store: EIP-55 for 0x addresses, lower case for bb1."""
    account = parse_address(value)
    value = value.strip()
    if value[:2] in ("0x", "0X"):
        return eth_checksum(account.hex())
    return value.lower()


def to_bitbadges_address(value: str) -> str:
    """The bb1 form of either spelling (what BitBadges answers with)."""
    account = parse_address(value)
    words = bech32.convertbits(account, 8, 5)
    if words is None:  # only for input values over 8 bits, which bytes never hold
        raise ValueError("The address could not be converted to bech32.")
    return bech32.bech32_encode(BECH32_HRP, words)


def to_eth_address(value: str) -> str:
    """The EIP-55 0x form of either spelling."""
    return eth_checksum(parse_address(value).hex())
