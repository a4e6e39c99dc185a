"""Flask application factory: wires the container, the API blueprints and the docs."""

from __future__ import annotations

import swagger_ui_bundle
from flask import Flask, send_from_directory
from flask_smorest import Api

from backend.api import BLUEPRINTS
from backend.api.context import close_db, enforce_roles
from backend.api.errors import register_error_handlers
from backend.bootstrap import Container, bootstrap
from backend.config import Settings

SWAGGER_STATIC = "/_static/swagger-ui/"


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

    @app.get(SWAGGER_STATIC + "<path:filename>")
    def swagger_static(filename: str):  # type: ignore[no-untyped-def]
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    api = Api(app)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    register_error_handlers(app)
    return app
