"""API blueprints, one per resource; the app factory registers them in this order."""

from backend.api import (
    auth,
    catalogue,
    charge_points_admin,
    codes,
    contracts,
    favourites,
    health,
    memberships,
    operators,
    plans,
    prices,
    pricing,
    rfid,
    sites,
    supply,
)

BLUEPRINTS = [
    health.blp,
    auth.blp,
    codes.blp,
    memberships.blp,
    rfid.blp,
    catalogue.blp,
    favourites.blp,
    operators.blp,
    operators.staff_blp,
    contracts.blp,
    operators.groups_blp,
    sites.blp,
    charge_points_admin.blp,
    pricing.blp,
    supply.blp,
    prices.blp,
    plans.blp,
]
