"""BitBadges addresses: both spellings of one account, and what is refused (docs/fidelity.md row 19)."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from core.addresses import (
    eth_checksum,
    normalize_address,
    parse_address,
    to_bitbadges_address,
    to_eth_address,
)

ETH_LOWER = "0x742d35cc6634c0532925a3b844bc9e7595f0beb1"
ETH_CHECKSUMMED = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"
BB_OF_ETH = "bb1wskntnrxxnq9x2f95wuyf0y7wk2lp043p2tca7"
ETH_2 = "0x14574a6DFF2Ddf9e07828b4345d3040919AF5652"
BB_2 = "bb1z3t55m0l9h0eupuz3dp5t5cypyv674jjl8mh5h"
BB_2_DOCS_TYPO = "bb1z3t55m0l9h0eupuz3dp5t5cypyv674jj7mz2jw"  # the docs' misprint: bad checksum
BB_ZERO = "bb1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqs7gvmv"


def message(value) -> str:
    with pytest.raises(ValidationError) as info:
        parse_address(value)
    return " ".join(info.value.messages)


def test_eip55_vector():
    assert eth_checksum(ETH_LOWER[2:]) == ETH_CHECKSUMMED


@pytest.mark.parametrize(
    ("eth", "bb"), [(ETH_LOWER, BB_OF_ETH), (ETH_2, BB_2), ("0x" + "0" * 40, BB_ZERO)]
)
def test_conversion_both_ways(eth, bb):
    assert to_bitbadges_address(eth) == bb
    assert to_eth_address(bb).lower() == eth.lower()
    assert parse_address(eth) == parse_address(bb)


@pytest.mark.parametrize(
    "valid",
    [ETH_LOWER, ETH_CHECKSUMMED, "0x" + ETH_LOWER[2:].upper(), ETH_2, BB_2, BB_2.upper(), BB_ZERO],
)
def test_valid_addresses(valid):
    assert len(parse_address(valid)) == 20


def test_whitespace_around_is_forgiven():
    assert normalize_address(f"  {ETH_LOWER}\n") == ETH_CHECKSUMMED


def test_normalize_stores_checksummed_and_lowercase_bech32():
    assert normalize_address(ETH_LOWER) == ETH_CHECKSUMMED
    assert normalize_address(BB_2.upper()) == BB_2


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("", "Enter an address"),
        ("   ", "Enter an address"),
        ("0x742d35cc", "exactly 40 hex digits after the 0x; this one has 8"),
        (ETH_LOWER + "00", "this one has 42"),
        ("0x742d35cc6634c0532925a3b844bc9e7595f0beg1", "'g' is not one of them"),
        ("0x742d35cC6634c0532925A3b844bc9E7595F0beb1", "EIP-55 checksum"),
        (BB_2_DOCS_TYPO, "fails its checksum"),
        ("bb1z3t55m0l9h0eupuz3dp5T5cypyv674jjl8mh5h", "never mixed"),
        ("bb1z3t55m0l9h0eupuz3dp5t5cypyv674jjl8mh5b", "'b' cannot appear"),
        ("cosmos1z3t55m0l9h0eupuz3dp5t5cypyv674jjl8mh5h", "starts with 0x"),
        ("alice.eth", "starts with 0x"),
        ("bb1" + "q" * 200, "far too long"),
        ("<script>alert(1)</script>", "starts with 0x"),
    ],
)
def test_invalid_addresses_say_what_is_wrong(bad, says):
    assert says in message(bad)


def test_bech32_with_wrong_payload_length_is_refused():
    import bech32

    short = bech32.bech32_encode("bb", bech32.convertbits(b"\x01" * 10, 8, 5))
    assert "20-byte" in message(short)


def test_non_string_is_refused_cleanly():
    assert "as text" in message(None)


@given(st.binary(min_size=20, max_size=20))
def test_round_trip_of_any_account(account):
    eth = eth_checksum(account.hex())
    bb = to_bitbadges_address(eth)
    assert parse_address(eth) == account
    assert parse_address(bb) == account
    assert to_eth_address(bb) == eth


@given(st.text(max_size=120))
def test_any_text_is_either_an_address_or_a_validation_error(text):
    try:
        assert len(parse_address(text)) == 20
    except ValidationError as exc:
        assert exc.messages and all(m.strip() for m in exc.messages)
