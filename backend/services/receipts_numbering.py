"""Gapless document numbers: one counter row per series and year, locked FOR UPDATE.

The number is taken in the transaction that inserts the document. Another transaction
issuing in the same series waits on the row lock until the first commits (and then sees
its number) or rolls back (and the number is free again): no gaps, no duplicates. A
sequence (`nextval`) would not do: it never gives a number back on rollback.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import ReceiptCounter


def lock_counter(s: Session, series: str, year: int) -> ReceiptCounter:
    """The counter of `series` and `year`, locked until the caller's transaction ends;
    created (at 0) the first time the series is used that year."""
    query = (
        select(ReceiptCounter)
        .where(ReceiptCounter.series == series, ReceiptCounter.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = s.scalar(query)
    if row is not None:
        return row
    try:
        with s.begin_nested():  # two first documents of a year: one insert wins
            s.add(ReceiptCounter(series=series, year=year, last_seq=0))
    except IntegrityError:
        pass
    row = s.scalar(query)
    assert row is not None
    return row


def take_next(counter: ReceiptCounter) -> int:
    """The next number of a locked counter (kept only if the transaction commits)."""
    counter.last_seq += 1
    return counter.last_seq
