"""Normalization of identifiers and the block list: pure rules, no AWS."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omo2c.core.settings import Settings
from omo2c.identity.identifiers import (
    BlockList,
    IdentifierKind,
    InvalidIdentifier,
    normalize,
    normalize_email,
    normalize_phone,
)


@pytest.mark.parametrize("raw", ["0912-345-678", "+886 912 345 678", "886912345678", "0912345678",
                                 "(0912) 345 678", "+886-912-345-678"])
def test_common_taiwan_formats_are_one_number(raw):
    assert normalize_phone(raw) == "+886912345678"


@pytest.mark.parametrize("raw", ["", "-", "abc", "12", "0912", "+1 555"])
def test_junk_phones_are_invalid(raw):
    with pytest.raises(InvalidIdentifier):
        normalize_phone(raw)


def test_email_is_trimmed_and_lowercased():
    assert normalize_email("  Mei@Example.COM ") == "mei@example.com"
    with pytest.raises(InvalidIdentifier):
        normalize_email("not-an-email")


def test_ec_customer_ids_are_scoped_per_source():
    assert normalize(IdentifierKind.EC_CUSTOMER, "123", scope="shopify") == "shopify:123"
    assert normalize(IdentifierKind.EC_CUSTOMER, "123", scope="ec") != "shopify:123"


@given(st.integers(min_value=10_000_000, max_value=99_999_999))
def test_any_mobile_number_is_the_same_in_every_format(tail):
    national = f"09{tail:08d}"
    forms = [national, f"{national[:4]}-{national[4:7]}-{national[7:]}", f"+886 {national[1:]}",
             f"886{national[1:]}"]
    normals = set()
    for form in forms:
        try:
            normals.add(normalize_phone(form))
        except InvalidIdentifier:
            normals.add("invalid")
    assert len(normals) == 1


@given(st.text(max_size=40))
def test_normalizers_only_ever_raise_invalid_identifier(text):
    for kind in IdentifierKind:
        try:
            value = normalize(kind, text)
        except InvalidIdentifier:
            continue
        assert value == normalize(kind, value) or kind is IdentifierKind.EC_CUSTOMER


def test_block_list_catches_placeholders_test_numbers_and_store_phones():
    blocks = BlockList(Settings().blocked_identifiers).with_phones({"+886223456789"})
    assert blocks.blocks("0900000000", normalize_phone("0900000000"))
    assert blocks.blocks("0912-345-678", normalize_phone("0912-345-678"))
    assert blocks.blocks("0911-111-111", normalize_phone("0911-111-111"))
    assert blocks.blocks("(02) 2345-6789", normalize_phone("(02) 2345-6789"))
    assert blocks.blocks("null") and blocks.blocks("-")
    assert not blocks.blocks("0933-128-765", normalize_phone("0933-128-765"))
