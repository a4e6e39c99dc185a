"""One error shape for every failure: {code, status, message, errors}."""

from __future__ import annotations

import logging
from typing import Any

import marshmallow as ma
from flask import Flask, jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from backend.errors import DomainError

log = logging.getLogger(__name__)

_FRIENDLY = {
    400: "The request could not be read. Send valid JSON with Content-Type: application/json.",
    401: "Please log in to do this.",
    403: "You are not allowed to do this.",
    404: "Nothing was found at this address.",
    405: "This address does not accept that method.",
    409: "This conflicts with the current state; reload and try again.",
    412: "Somebody else changed this in the meantime; reload and try again.",
    413: "The request is too large.",
    415: "Send the request body as JSON (Content-Type: application/json).",
    422: "Some fields are not valid.",
    428: "Send the If-Match header with the ETag you last read, so no change is lost.",
    429: "Too many attempts; please wait and try again.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
    503: "The service is temporarily unavailable; please try again shortly.",
}


class ErrorSchema(ma.Schema):
    """The one error shape, as `problem` writes it, for the OpenAPI document (the `Error`
    component). flask-smorest's default documents its own shape ({code: int, status:
    str}), which is not what any of our answers carries: fuzzers validating errors against
    the spec then report every 4xx as a schema violation."""

    code = ma.fields.String(required=True, metadata={"description": "Machine-readable code"})
    status = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    message = ma.fields.String(required=True, metadata={"description": "For a person"})
    errors = ma.fields.Dict(
        required=True, metadata={"description": "Per-field messages, where there are any"}
    )


def problem(
    status: int, code: str, message: str, errors: Any = None, headers: dict[str, str] | None = None
):  # type: ignore[no-untyped-def]
    body = {"code": code, "status": status, "message": message, "errors": errors or {}}
    resp = jsonify(body)
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _flatten_webargs(messages: Any) -> Any:
    # webargs nests field errors by location ({"json": {...}}); clients want the fields.
    if isinstance(messages, dict) and set(messages) <= {
        "json",
        "query",
        "form",
        "headers",
        "files",
        "path",
        "view_args",
    }:
        merged: dict[str, Any] = {}
        for part in messages.values():
            if isinstance(part, dict):
                merged.update(part)
        return merged
    return messages


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):  # type: ignore[no-untyped-def]
        return problem(exc.status, exc.code, exc.message, exc.errors, exc.headers)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        data = getattr(exc, "data", None) or {}
        errors = _flatten_webargs(data.get("messages", {}))
        message = data.get("message") if isinstance(data.get("message"), str) else None
        if status == 422 and errors:
            message = "Some fields are not valid: " + ", ".join(sorted(map(str, errors))) + "."
        if status == 400 and not message:
            message = _FRIENDLY[400]
        code = (exc.name or "error").lower().replace(" ", "_")
        return problem(
            status, code, message or _FRIENDLY.get(status, exc.description or ""), errors
        )

    @app.errorhandler(OperationalError)
    def _db_down(exc: OperationalError):  # type: ignore[no-untyped-def]
        log.error("database unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
        return problem(
            503,
            "database_unavailable",
            "Our database is unreachable right now. Nothing was changed; "
            "please try again in a moment.",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        return problem(500, "internal_error", _FRIENDLY[500])
