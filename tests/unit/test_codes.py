"""Company codes (generation, reading back, DST) and the RFID decision, without I/O."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from backend.db.models.enums import Visibility
from backend.errors import InvalidInput
from backend.services import rfid
from shared import codes

# --- generation ------------------------------------------------------------------------


def test_entropy_is_at_least_50_bits_and_matches_length_and_alphabet():
    assert codes.ENTROPY_BITS >= 50
    assert pytest.approx(codes.CODE_LENGTH * math.log2(len(codes.ALPHABET))) == codes.ENTROPY_BITS


def test_alphabet_has_no_look_alike_characters():
    assert not set("0O1ILUV") & set(codes.ALPHABET)
    assert len(set(codes.ALPHABET)) == len(codes.ALPHABET)
    assert set(codes.ALPHABET) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def test_generated_codes_use_only_the_alphabet_and_differ():
    drawn = [codes.generate() for _ in range(2000)]
    assert len(set(drawn)) == len(drawn)
    assert all(len(c) == codes.CODE_LENGTH and set(c) <= set(codes.ALPHABET) for c in drawn)
    # Every symbol shows up: the generator is not stuck on part of the alphabet.
    seen = Counter("".join(drawn))
    assert set(seen) == set(codes.ALPHABET)


def test_formatted_code_is_grouped_for_reading_aloud():
    plain = codes.generate()
    shown = codes.format_code(plain)
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", shown)
    assert shown.replace("-", "") == plain
    assert codes.hint(plain) == plain[-4:]


# --- reading back what a person typed ---------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["abcd-efgh-jkmn", " ABCD EFGH JKMN ", "abcd–efgh—jkmn", "ABCDEFGHJKMN", "aBcD\tEfGh\nJkMn"],
)
def test_normalise_ignores_case_spaces_and_dashes(typed):
    assert codes.normalise(typed) == "ABCDEFGHJKMN"


@pytest.mark.parametrize("typed", ["ABCD-EFGH-JKM0", "ABCD-EFGH-JKMO", "abcd-efgh-jkml"])
def test_look_alikes_are_not_guessed_but_explained(typed):
    with pytest.raises(codes.MalformedCode, match="never contains"):
        codes.normalise(typed)


def test_wrong_length_is_explained():
    with pytest.raises(codes.MalformedCode, match="12 characters"):
        codes.normalise("ABCD-EFGH")
    assert not codes.is_well_formed("ABCD-EFGH-JKMN-P")
    assert codes.is_well_formed(codes.format_code(codes.generate()))


def test_non_ascii_lookalikes_are_refused():
    # A Cyrillic 'А' looks like 'A' and 'ß' would upper-case to 'SS' (a length change).
    assert not codes.is_well_formed("\u0410BCD-EFGH-JKMN")
    assert not codes.is_well_formed("ßBCD-EFGH-JKM")


# --- local validity and DST ------------------------------------------------------------

WARSAW = "Europe/Warsaw"


def test_hotel_window_from_domain_example_is_stored_in_utc():
    # domain.md §6, P2: 2026-11-20 14:00 to 2026-11-22 12:00 Warsaw (CET, UTC+1).
    assert codes.local_to_utc(datetime(2026, 11, 20, 14, 0), WARSAW) == datetime(
        2026, 11, 20, 13, 0, tzinfo=UTC
    )
    assert codes.local_to_utc(datetime(2026, 11, 22, 12, 0), WARSAW) == datetime(
        2026, 11, 22, 11, 0, tzinfo=UTC
    )


def test_time_in_the_spring_forward_gap_is_refused():
    with pytest.raises(codes.LocalTimeError, match="does not exist"):
        codes.local_to_utc(datetime(2026, 3, 29, 2, 30), WARSAW)
    # Just outside the gap both sides are fine.
    assert codes.local_to_utc(datetime(2026, 3, 29, 1, 59), WARSAW) == datetime(
        2026, 3, 29, 0, 59, tzinfo=UTC
    )
    assert codes.local_to_utc(datetime(2026, 3, 29, 3, 0), WARSAW) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )


def test_time_in_the_fall_back_hour_takes_its_first_occurrence():
    # 02:30 happens at 00:30 UTC (CEST, +2) and again at 01:30 UTC (CET, +1).
    assert codes.local_to_utc(datetime(2026, 10, 25, 2, 30), WARSAW) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


def test_local_time_is_shown_back_as_entered():
    for local in (datetime(2026, 11, 20, 14, 0), datetime(2026, 7, 1, 9, 15)):
        assert codes.utc_to_local(codes.local_to_utc(local, WARSAW), WARSAW) == local


def test_offsets_and_unknown_zones_are_refused():
    with pytest.raises(codes.LocalTimeError, match="without an offset"):
        codes.local_to_utc(datetime(2026, 11, 20, 14, 0, tzinfo=UTC), WARSAW)
    with pytest.raises(codes.LocalTimeError, match="Unknown time zone"):
        codes.local_to_utc(datetime(2026, 11, 20, 14, 0), "Europe/Atlantis")


# --- RFID idTags (OCPP) ----------------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def token(**kw):
    base = dict(token_id=7, operator_id=1, price_group_id=10, driver_id=3, blocked_at=None)
    return rfid.TokenFacts(**{**base, **kw})


def site(operator_id=1, visibility=Visibility.PRIVATE.value, default_group=11):
    return rfid.SiteFacts(99, operator_id, visibility, default_group)


def test_own_operator_card_is_accepted_in_its_price_group_even_at_a_private_site():
    result = rfid.decide(token(), site(), NOW)
    assert result.status == rfid.IdTagStatus.ACCEPTED and result.ocpp_status == "Accepted"
    assert (result.price_group_id, result.driver_id, result.token_id) == (10, 3, 7)


def test_unknown_card_is_invalid():
    result = rfid.decide(None, site(), NOW)
    assert result.status == rfid.IdTagStatus.UNKNOWN and result.ocpp_status == "Invalid"


def test_blocked_card_is_blocked_everywhere():
    for st in (site(), site(operator_id=2, visibility="public")):
        result = rfid.decide(token(blocked_at=NOW), st, NOW)
        assert result.status == rfid.IdTagStatus.BLOCKED and result.ocpp_status == "Blocked"


@pytest.mark.parametrize("visibility", ["public", "semi_public"])
def test_foreign_card_at_an_open_site_pays_the_public_price(visibility):
    result = rfid.decide(token(), site(operator_id=2, visibility=visibility), NOW)
    assert result.status == rfid.IdTagStatus.ACCEPTED
    assert result.price_group_id == 11  # the site's default group, not the card's


def test_foreign_card_at_a_private_site_is_not_valid_here():
    result = rfid.decide(token(), site(operator_id=2), NOW)
    assert result.status == rfid.IdTagStatus.NOT_VALID_HERE
    assert result.ocpp_status == "Invalid"


@pytest.mark.parametrize(
    ("raw", "stored"), [("04a1b2c3", "04A1B2C3"), ("  tag 1 ", "TAG 1"), ("x" * 20, "X" * 20)]
)
def test_id_tag_is_trimmed_and_case_folded(raw, stored):
    assert rfid.normalise_id_tag(raw) == stored


@pytest.mark.parametrize("raw", ["", "   ", "x" * 21, "zażółć", "tab\there"])
def test_id_tag_outside_ocpp_16_rules_is_refused(raw):
    with pytest.raises(InvalidInput):
        rfid.normalise_id_tag(raw)
