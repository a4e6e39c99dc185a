"""Distances and search boxes (shared/geo.py): known distances, poles, the ±180° meridian."""

from __future__ import annotations

import math
import random

import pytest

from shared.geo import (
    EARTH_RADIUS_M,
    InvalidCoordinates,
    bounding_box,
    haversine_m,
    validate_point,
    validate_radius,
)

WARSAW = (52.2297, 21.0122)
KRAKOW = (50.0647, 19.9450)


def test_warsaw_to_krakow_is_about_252_km():
    assert haversine_m(*WARSAW, *KRAKOW) == pytest.approx(252_000, abs=1_500)


def test_distance_is_symmetric_and_zero_for_the_same_place():
    assert haversine_m(*WARSAW, *KRAKOW) == pytest.approx(haversine_m(*KRAKOW, *WARSAW))
    assert haversine_m(*WARSAW, *WARSAW) == 0.0


def test_one_degree_of_latitude_is_about_111_km():
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195, abs=5)


def test_short_distances_keep_their_precision():
    # 0.00001° of latitude ≈ 1.11 m: the law of cosines would round this to 0 or worse.
    assert haversine_m(52.0, 21.0, 52.00001, 21.0) == pytest.approx(1.112, abs=0.01)


def test_distance_across_the_antimeridian_is_short():
    # Two points in Fiji either side of ±180°: about 22 km apart, not half the globe.
    d = haversine_m(-17.0, 179.9, -17.0, -179.9)
    assert d == pytest.approx(21_270, abs=100)


def test_antipodal_points_are_half_the_circumference():
    assert haversine_m(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_M)
    assert haversine_m(90, 0, -90, 0) == pytest.approx(math.pi * EARTH_RADIUS_M)


def test_at_the_pole_longitude_does_not_matter():
    assert haversine_m(90, 0, 89, 0) == pytest.approx(haversine_m(90, 123, 89, -45))


def test_box_around_warsaw_is_one_range_and_contains_krakow_only_when_big_enough():
    small = bounding_box(*WARSAW, 5_000)
    assert len(small.lon_ranges) == 1
    assert small.contains(*WARSAW)
    assert not small.contains(*KRAKOW)
    assert bounding_box(*WARSAW, 260_000).contains(*KRAKOW)


def test_box_half_height_is_the_radius_in_degrees_of_latitude():
    box = bounding_box(*WARSAW, 10_000)
    deg = math.degrees(10_000 / EARTH_RADIUS_M)
    assert box.min_lat == pytest.approx(WARSAW[0] - deg)
    assert box.max_lat == pytest.approx(WARSAW[0] + deg)
    # At 52° N a degree of longitude is shorter, so the box is wider in degrees.
    ((lo, hi),) = box.lon_ranges
    assert hi - lo > 2 * deg


def test_box_across_the_antimeridian_splits_in_two():
    box = bounding_box(-17.0, 179.9, 50_000)
    assert len(box.lon_ranges) == 2
    assert box.contains(-17.0, -179.9)
    assert box.contains(-17.0, 179.5)
    assert not box.contains(-17.0, 0.0)
    west = bounding_box(-17.0, -179.9, 50_000)
    assert west.contains(-17.0, 179.9)


def test_box_reaching_a_pole_spans_every_longitude():
    north = bounding_box(89.9, 10.0, 20_000)
    assert north.all_longitudes
    assert north.max_lat == 90.0
    assert north.contains(89.95, -170.0)
    south = bounding_box(-89.95, 0.0, 10_000)
    assert south.all_longitudes and south.min_lat == -90.0


def test_radius_wider_than_the_globe_covers_everything():
    box = bounding_box(0, 0, 25_000_000)
    assert box.all_longitudes and (box.min_lat, box.max_lat) == (-90.0, 90.0)


@pytest.mark.parametrize("seed", range(5))
def test_box_never_misses_a_point_inside_the_circle(seed):
    """Random centres (poles and the antimeridian included) and random points around them:
    whatever is within the radius must be inside the box, or the catalogue loses it."""
    rng = random.Random(seed)
    for _ in range(400):
        lat = rng.choice([rng.uniform(-90, 90), rng.uniform(85, 90), rng.uniform(-90, -85)])
        lon = rng.choice([rng.uniform(-180, 180), rng.uniform(175, 180), -180.0, 180.0])
        radius = rng.choice([100.0, 5_000.0, 100_000.0, 1_000_000.0])
        box = bounding_box(lat, lon, radius)
        for _ in range(20):
            plat = max(-90.0, min(90.0, lat + rng.uniform(-20, 20) * radius / 1e6))
            plon = ((lon + rng.uniform(-40, 40) * radius / 1e6 + 180.0) % 360.0) - 180.0
            if haversine_m(lat, lon, plat, plon) <= radius:
                assert box.contains(plat, plon), (lat, lon, radius, plat, plon)


@pytest.mark.parametrize(
    ("lat", "lon", "field"),
    [
        (200, 0, "lat"),
        (-90.5, 0, "lat"),
        (0, 180.01, "lon"),
        (0, -181, "lon"),
        (math.nan, 0, "lat"),
        (0, math.inf, "lon"),
        (True, 0, "lat"),
        ("52", 0, "lat"),
    ],
)
def test_invalid_points_are_refused_naming_the_field(lat, lon, field):
    with pytest.raises(InvalidCoordinates) as err:
        validate_point(lat, lon)
    assert err.value.field == field
    with pytest.raises(InvalidCoordinates):
        haversine_m(lat, lon, 0, 0)


def test_edges_of_the_valid_range_are_accepted():
    validate_point(90, 180)
    validate_point(-90, -180)


@pytest.mark.parametrize("radius", [0, -1, math.nan, math.inf])
def test_invalid_radius_is_refused(radius):
    with pytest.raises(InvalidCoordinates) as err:
        validate_radius(radius)
    assert err.value.field == "radius"
    with pytest.raises(InvalidCoordinates):
        bounding_box(0, 0, radius)
