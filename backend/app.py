"""Flask application factory: wires the container, the API blueprints and the docs."""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from flask import Flask, send_from_directory
from flask_smorest import Api
from marshmallow import fields, validate
from werkzeug.routing import IntegerConverter

from backend.api import BLUEPRINTS
from backend.api.context import close_db, enforce_roles, reject_nul_characters
from backend.api.errors import ErrorSchema, register_error_handlers
from backend.bootstrap import Container, bootstrap
from backend.config import Settings
from backend.services.visibility import MAX_ID

SWAGGER_STATIC = "/_static/swagger-ui/"


class WattpassApi(Api):
    # Our errors are {code, status, message, errors} (backend/api/errors.py): document that
    # shape, not flask-smorest's default, for every error response of every operation.
    ERROR_SCHEMA = ErrorSchema


def id_parameter(converter: IntegerConverter) -> dict[str, Any]:
    """`<int:...>` in our routes is always an id, a 32-bit integer in the schema: say so in
    the OpenAPI document. An id outside the range names nothing, so it gets the very 404
    a missing one gets (`valid_id` keeps it from the database, whose query would fail)."""
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


# Amounts are decimals written as JSON strings ("2.59"): that is what every answer carries
# (as_string, and Flask writes any Decimal as a string) and what clients send. apispec
# documents fields.Decimal as a number, with its Range bounds as strings ("minimum": "0"),
# which is no valid OpenAPI; document a decimal string instead (a JSON number is still
# accepted on input), its bounds as x-minimum/x-maximum (apispec's convention for
# non-numeric types) and, when it may not be negative, no minus sign in its pattern.
DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
NON_NEGATIVE_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"


def decimal2properties(self: Any, field: Any, **kwargs: Any) -> dict[str, Any]:
    if not isinstance(field, fields.Decimal):
        return {}
    non_negative = any(
        isinstance(v, validate.Range) and v.min is not None and v.min >= 0 for v in field.validators
    )
    return {"pattern": NON_NEGATIVE_DECIMAL if non_negative else DECIMAL}


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> Flask:
    settings = settings or (container.settings if container else Settings.from_env())
    container = container or bootstrap(settings)

    app = Flask("wattpass")
    app.config.update(
        API_TITLE="Wattpass API",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_STATIC,  # served below: the machine may be offline
        MAX_CONTENT_LENGTH=1 << 20,
        JSON_SORT_KEYS=False,
        API_SPEC_OPTIONS={
            "info": {
                "description": "Find, unlock and pay for EV charging. Every error is "
                "`{code, status, message, errors}`."
            },
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
        },
    )
    app.extensions["wattpass"] = container
    app.teardown_appcontext(close_db)
    app.before_request(enforce_roles)
    app.before_request(reject_nul_characters)  # after the role check: 401/403 come first

    @app.get(SWAGGER_STATIC + "<path:filename>")
    def swagger_static(filename: str):  # type: ignore[no-untyped-def]
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    api = WattpassApi(app)
    api.register_field(fields.Decimal, "string", "decimal")
    api.register_converter(IntegerConverter, id_parameter)
    api.ma_plugin.converter.add_attribute_function(decimal2properties)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    register_error_handlers(app)
    return app
