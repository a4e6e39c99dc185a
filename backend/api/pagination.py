"""A bound on `page` for every paginated list (imported before any blueprint).

`page` had no upper bound: page=10**30 made an OFFSET beyond what PostgreSQL takes, a 500
on every list. A million pages of at most 100 items is more than any list holds and keeps
every offset within 32 bits. flask-smorest builds the query schema of `paginate` with a
module-level factory when the decorator runs; ours adds the bound (and documents it).
"""

from __future__ import annotations

from typing import Any

import flask_smorest.pagination
from marshmallow import fields, validate

MAX_PAGE = 1_000_000
_smorest_factory = flask_smorest.pagination._pagination_parameters_schema_factory


def bounded_page_schema(first_page: int, page_size: int, max_page_size: int) -> Any:
    base = _smorest_factory(first_page, page_size, max_page_size)

    class PaginationParametersSchema(base):  # type: ignore[valid-type,misc]
        page = fields.Integer(load_default=first_page, validate=validate.Range(min=1, max=MAX_PAGE))

    return PaginationParametersSchema


flask_smorest.pagination._pagination_parameters_schema_factory = bounded_page_schema
