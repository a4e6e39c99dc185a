"""Geometry on the Earth's surface for the catalogue: distances and search boxes.

Pure standard library. The Earth is taken as a sphere of the IUGG mean radius: over the
distances a driver searches (at most a few hundred kilometres) the error against the
WGS-84 ellipsoid stays under 0.5 %, far below what anyone notices on a map.

A search box is what a database index can answer (latitude and longitude ranges); the
exact great-circle distance then decides. The box must never be *smaller* than the
circle, or points would silently go missing: near a pole every longitude is in range,
and across the ±180° meridian the longitude range splits in two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius
HALF_CIRCUMFERENCE_M = math.pi * EARTH_RADIUS_M


class InvalidCoordinates(ValueError):
    """A latitude, longitude or radius that does not describe a place on Earth.

    ``field`` names the offending input so an API can report it per field.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _is_number(value: object) -> bool:
    # type() rather than isinstance(): True is an int to Python, but not a latitude.
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def validate_point(lat: float, lon: float) -> None:
    """Latitude in [-90, 90] and longitude in [-180, 180], both finite numbers."""
    if not _is_number(lat):
        raise InvalidCoordinates("lat", "Latitude must be a finite number.")
    if not _is_number(lon):
        raise InvalidCoordinates("lon", "Longitude must be a finite number.")
    if not -90.0 <= lat <= 90.0:
        raise InvalidCoordinates("lat", "Latitude must be between -90 and 90 degrees.")
    if not -180.0 <= lon <= 180.0:
        raise InvalidCoordinates("lon", "Longitude must be between -180 and 180 degrees.")


def validate_radius(radius_m: float) -> None:
    """A search radius: a finite, positive number of metres."""
    if not _is_number(radius_m) or radius_m <= 0:
        raise InvalidCoordinates("radius", "The radius must be a positive number.")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in degrees.

    The haversine form stays accurate for short distances, where the spherical law of
    cosines loses digits; the clamp guards asin against rounding just above 1 for
    antipodal points.
    """
    validate_point(lat1, lon1)
    validate_point(lat2, lon2)
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


@dataclass(frozen=True)
class BoundingBox:
    """Latitude range plus one or two longitude ranges that together contain a circle.

    ``lon_ranges`` is empty when every longitude is in range (the circle holds a pole or
    is wider than the globe); it has two ranges when the circle crosses ±180°.
    """

    min_lat: float
    max_lat: float
    lon_ranges: tuple[tuple[float, float], ...]

    @property
    def all_longitudes(self) -> bool:
        return not self.lon_ranges

    def contains(self, lat: float, lon: float) -> bool:
        if not self.min_lat <= lat <= self.max_lat:
            return False
        return self.all_longitudes or any(lo <= lon <= hi for lo, hi in self.lon_ranges)


def bounding_box(lat: float, lon: float, radius_m: float) -> BoundingBox:
    """The smallest latitude/longitude box containing every point within ``radius_m``.

    Method of J. P. Matuschek, "Finding Points Within a Distance of a Latitude/Longitude
    Using Bounding Coordinates": the longitude half-width at the widest point of the
    circle is asin(sin(r) / cos(lat)), and a circle that reaches a pole spans all
    longitudes.
    """
    validate_point(lat, lon)
    validate_radius(radius_m)
    if radius_m >= HALF_CIRCUMFERENCE_M:
        return BoundingBox(-90.0, 90.0, ())
    r = radius_m / EARTH_RADIUS_M  # angular radius
    phi = math.radians(lat)
    lat_lo, lat_hi = phi - r, phi + r
    if lat_lo <= -math.pi / 2 or lat_hi >= math.pi / 2:
        # The circle holds a pole: from there every meridian is within reach.
        return BoundingBox(
            math.degrees(max(lat_lo, -math.pi / 2)), math.degrees(min(lat_hi, math.pi / 2)), ()
        )
    dlon = math.degrees(math.asin(min(1.0, math.sin(r) / math.cos(phi))))
    lo, hi = lon - dlon, lon + dlon
    min_lat, max_lat = math.degrees(lat_lo), math.degrees(lat_hi)
    if hi - lo >= 360.0:
        return BoundingBox(min_lat, max_lat, ())
    if lo < -180.0:
        return BoundingBox(min_lat, max_lat, ((lo + 360.0, 180.0), (-180.0, hi)))
    if hi > 180.0:
        return BoundingBox(min_lat, max_lat, ((lo, 180.0), (-180.0, hi - 360.0)))
    return BoundingBox(min_lat, max_lat, ((lo, hi),))
