"""API blueprints, one per resource; the app factory registers them in this order."""

from backend.api import auth, health

BLUEPRINTS = [health.blp, auth.blp]
