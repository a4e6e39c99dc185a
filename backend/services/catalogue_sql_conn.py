"""The connection the catalogue's statements run on: autocommit when it can, and sin and
cos lent to a SQLite built without its math functions (see catalogue_sql).

Split out of catalogue_sql (which re-exports `reading`) to keep each module small.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session


@cache
def _sqlite_has_math() -> bool:
    import sqlite3

    try:
        sqlite3.connect(":memory:").execute("SELECT sin(0), cos(0)").close()
    except sqlite3.OperationalError:
        return False
    return True


@contextmanager
def reading(s: Session) -> Iterator[Connection]:
    """The session's connection, to run the catalogue's Core statements on directly (the
    ORM layer of Session.execute adds nothing to them but time).

    Outside a transaction of the caller's, in autocommit: a search is one statement or a
    few, each with its own snapshot under READ COMMITTED anyway, and a transaction
    around them would only add two round trips (BEGIN, then COMMIT or ROLLBACK; and on a
    ROLLBACK psycopg forgets the statements it prepared on the connection). Afterwards
    the connection goes back to the pool in its usual mode."""
    if s.in_transaction() or s.new or s.dirty or s.deleted:
        yield _with_math(s.connection())
        return
    try:
        yield _with_math(s.connection(execution_options={"isolation_level": "AUTOCOMMIT"}))
    finally:
        s.rollback()  # nothing to undo: this only hands the connection back


def _with_math(conn: Connection) -> Connection:
    """SQLite has sin and cos only when built with its math functions; lend it Python's
    otherwise, so the embedded default runs the very same statements as PostgreSQL."""
    if conn.dialect.name == "sqlite" and not _sqlite_has_math():
        raw: Any = conn.connection.driver_connection
        for name, fn in (("sin", math.sin), ("cos", math.cos)):
            raw.create_function(name, 1, _null_safe(fn), deterministic=True)
    return conn


def _null_safe(fn: Any) -> Any:
    return lambda x: None if x is None else fn(x)
