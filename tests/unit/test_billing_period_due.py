"""Which month a scheduled close may settle: one that has ended in every time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from backend.services.billing_periods import period_due


def test_the_month_is_due_once_it_has_ended_west_of_utc_too() -> None:
    # 1 Dec 11:59 UTC is still 30 Nov 23:59 at UTC−12: November is not over there.
    assert period_due(datetime(2026, 12, 1, 11, 59, tzinfo=UTC)) == "2026-10"
    assert period_due(datetime(2026, 12, 1, 12, 0, tzinfo=UTC)) == "2026-11"
    assert period_due(datetime(2026, 12, 20, 8, 0, tzinfo=UTC)) == "2026-11"


def test_january_closes_the_previous_december_and_any_offset_means_the_same_moment() -> None:
    assert period_due(datetime(2027, 1, 2, tzinfo=UTC)) == "2026-12"
    warsaw_winter = timezone(timedelta(hours=1))
    moment = datetime(2027, 1, 1, 13, 30, tzinfo=warsaw_winter)  # 12:30 UTC
    assert period_due(moment) == "2026-12"
    assert period_due(moment - timedelta(hours=1)) == "2026-11"
