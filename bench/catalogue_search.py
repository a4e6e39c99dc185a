"""Benchmark: catalogue search over 100,000 charge points on PostgreSQL, over real HTTP.

    .venv/bin/python bench/catalogue_search.py [--points 100000] [--requests 2000]

It creates a fresh database (wattpass_bench), migrates it, bulk-loads sites spread over
Poland the way chargers are (dense in cities, sparse in the country), starts the real
API under gunicorn on 127.0.0.1, warms up, then sends search requests at random Polish
places (realistic radii, filters, pages, anonymous and logged-in drivers) interleaved
with the same number of requests to /health, so both see the same machine at the same
time. It prints p50/p95/p99 of both and their ratios, and drops its database at the end.

Target (issue #2): search p99 under 25 ms, and under 5x the trivial endpoint's p99.
Environment: WATTPASS_BENCH_PG (admin URL, default postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.db.migrate import upgrade  # noqa: E402
from backend.security.passwords import hash_password  # noqa: E402
from backend.services.catalogue_summary import connector_bits  # noqa: E402

ADMIN_URL = os.environ.get("WATTPASS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = "wattpass_bench"
DRIVER_PASSWORD = "bench-password-123"  # noqa: S105 - a throw-away account in a throw-away DB

# (name, latitude, longitude, population in thousands): where drivers and chargers are.
CITIES = [
    ("Warszawa", 52.2297, 21.0122, 1860),
    ("Kraków", 50.0647, 19.9450, 800),
    ("Wrocław", 51.1079, 17.0385, 674),
    ("Łódź", 51.7592, 19.4560, 658),
    ("Poznań", 52.4064, 16.9252, 540),
    ("Gdańsk", 54.3520, 18.6466, 486),
    ("Szczecin", 53.4285, 14.5528, 391),
    ("Bydgoszcz", 53.1235, 18.0084, 330),
    ("Lublin", 51.2465, 22.5684, 334),
    ("Białystok", 53.1325, 23.1688, 294),
    ("Katowice", 50.2649, 19.0238, 286),
    ("Gdynia", 54.5189, 18.5305, 243),
    ("Częstochowa", 50.8118, 19.1203, 209),
    ("Radom", 51.4027, 21.1471, 200),
    ("Rzeszów", 50.0412, 21.9991, 197),
    ("Toruń", 53.0138, 18.5984, 196),
    ("Sosnowiec", 50.2863, 19.1041, 193),
    ("Kielce", 50.8661, 20.6286, 186),
    ("Gliwice", 50.2945, 18.6714, 175),
    ("Olsztyn", 53.7784, 20.4801, 171),
    ("Zabrze", 50.3249, 18.7857, 170),
    ("Bielsko-Biała", 49.8224, 19.0584, 168),
    ("Bytom", 50.3484, 18.9157, 161),
    ("Zielona Góra", 51.9356, 15.5062, 140),
    ("Rybnik", 50.1022, 18.5463, 136),
    ("Opole", 50.6751, 17.9213, 127),
    ("Gorzów Wlkp.", 52.7368, 15.2288, 122),
    ("Elbląg", 54.1522, 19.4088, 118),
    ("Płock", 52.5463, 19.7065, 118),
    ("Wałbrzych", 50.7714, 16.2843, 110),
    ("Włocławek", 52.6483, 19.0677, 108),
    ("Tarnów", 50.0121, 20.9858, 107),
    ("Koszalin", 54.1944, 16.1722, 106),
    ("Kalisz", 51.7611, 18.0910, 99),
    ("Legnica", 51.2070, 16.1619, 98),
    ("Zakopane", 49.2992, 19.9496, 27),
    ("Suwałki", 54.1118, 22.9309, 69),
    ("Przemyśl", 49.7838, 22.7678, 60),
]
# Poland's border, roughly (lon, lat): rural sites are drawn inside it.
BORDER = [
    (14.2, 53.9),
    (14.6, 52.6),
    (14.7, 51.2),
    (15.0, 51.0),
    (16.3, 50.6),
    (17.7, 50.2),
    (18.8, 49.6),
    (19.8, 49.2),
    (21.0, 49.4),
    (22.6, 49.1),
    (22.7, 49.6),
    (24.0, 50.5),
    (23.6, 51.6),
    (23.7, 52.6),
    (23.9, 53.2),
    (23.5, 54.0),
    (22.8, 54.4),
    (19.6, 54.4),
    (18.4, 54.8),
    (16.6, 54.6),
    (14.2, 53.9),
]
RADII_KM = {2: 15, 5: 40, 10: 20, 25: 15, 50: 7, 100: 3}  # search radius -> weight
PLUGS = [("type2", 22000), ("type2", 11000), ("type2", 7400), ("ccs2", 50000),
         ("ccs2", 150000), ("ccs2", 350000), ("chademo", 50000)]  # fmt: skip
PLUG_WEIGHTS = [30, 15, 10, 20, 12, 5, 8]
CONNECTOR_STATUSES = {"Available": 60, "Charging": 22, "Preparing": 3, "SuspendedEV": 5,
                      "Faulted": 4, "Unavailable": 4, "Unknown": 2}  # fmt: skip
VISIBILITY = {"public": 55, "semi_public": 25, "private": 20}


def inside_poland(lon: float, lat: float) -> bool:
    """Ray casting against BORDER."""
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(BORDER):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def random_place(rng: random.Random, city_share: float) -> tuple[float, float]:
    """Near a city (weighted by population, spread with its size) or anywhere in Poland."""
    if rng.random() < city_share:
        _, lat, lon, pop = rng.choices(CITIES, weights=[c[3] for c in CITIES])[0]
        sigma_km = 2.5 + pop / 200
        return lat + rng.gauss(0, sigma_km / 111.2), lon + rng.gauss(0, sigma_km / 68.0)
    while True:
        lon, lat = rng.uniform(14.1, 24.2), rng.uniform(49.0, 54.9)
        if inside_poland(lon, lat):
            return lat, lon


def pick(rng: random.Random, weighted: dict) -> object:  # type: ignore[type-arg]
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def load(url: str, n_points: int, rng: random.Random) -> dict[str, object]:
    """Bulk-load operators, sites, charge points, connectors and drivers with COPY."""
    operators = 400
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY operators (id, name, legal_name, tax_id, country, email, phone, created_at)"
            " FROM STDIN"
        ) as cp:
            for o in range(1, operators + 1):
                name = f"Operator {o}"
                cp.write_row((o, name, name, "", "PL", "", "", "2026-01-01T00:00:00Z"))
        with cur.copy(
            "COPY price_groups (id, operator_id, name, kind, created_at) FROM STDIN"
        ) as cp:
            for o in range(1, operators + 1):
                cp.write_row((2 * o - 1, o, "Company", "company", "2026-01-01T00:00:00Z"))
                cp.write_row((2 * o, o, "Public", "public", "2026-01-01T00:00:00Z"))
        # Drawn in this order (sites, points, connectors) and written afterwards: a
        # site's row carries the summary of its connectors (catalogue_summary), as the
        # services keep it.
        sites: list[tuple[int, int, str]] = []  # (id, operator, visibility)
        site_rows: list[list[object]] = []
        points_left = n_points
        site_plan: list[int] = []
        while points_left > 0:
            k = min(points_left, rng.choices([1, 2, 3, 4], weights=[40, 30, 20, 10])[0])
            site_plan.append(k)
            points_left -= k
        for site_id in range(1, len(site_plan) + 1):
            op = rng.randint(1, operators)
            vis = str(pick(rng, VISIBILITY))
            lat, lon = random_place(rng, 0.75)
            site_rows.append([
                site_id, op, f"Site {site_id}", "ul. Testowa 1", "00-001", "Miasto", "PL",
                lat, lon, "Europe/Warsaw", "PLN", "0.23", vis, 2 * op,
                "2026-01-01T00:00:00Z", 0,
            ])  # fmt: skip
            sites.append((site_id, op, vis))
        cp_rows: list[tuple[object, ...]] = []
        for (sid, _, _), k in zip(sites, site_plan, strict=True):
            for _ in range(k):
                status = rng.choices(["online", "offline", "faulted"], weights=[90, 8, 2])[0]
                cp_rows.append((
                    len(cp_rows) + 1, sid, f"BENCH-{len(cp_rows) + 1:07d}", "Acme", "AC22",
                    f"SN{len(cp_rows) + 1}", "1.0", "1.6", True, status, "2026-01-01T00:00:00Z",
                ))  # fmt: skip
        connector_rows: list[tuple[object, ...]] = []
        for cp_id, sid, *_ in cp_rows:
            for n in range(1, rng.choice([1, 2, 2]) + 1):
                plug, watts = rng.choices(PLUGS, weights=PLUG_WEIGHTS)[0]
                status = pick(rng, CONNECTOR_STATUSES)
                connector_rows.append((len(connector_rows) + 1, cp_id, n, plug, watts, status))
                site_rows[sid - 1][-1] |= connector_bits(plug, watts)  # type: ignore[operator]
        cps, conns = len(cp_rows), len(connector_rows)
        copies = [
            ("sites (id, operator_id, name, street, postal_code, city, country, latitude,"
             " longitude, timezone, currency, vat_rate, visibility, default_price_group_id,"
             " created_at, connector_bits)", site_rows),
            ("charge_points (id, site_id, ocpp_identity, vendor, model, serial_number,"
             " firmware_version, ocpp_version, commissioned, status, created_at)", cp_rows),
            ("connectors (id, charge_point_id, connector_id, plug_type, max_power_w, status)",
             connector_rows),
        ]  # fmt: skip
        for table, rows in copies:
            with cur.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        drivers = _drivers(cur, sites, rng)
        for table in ("operators", "price_groups", "sites", "charge_points", "connectors"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {"sites": len(sites), "charge_points": cps, "connectors": conns, "drivers": drivers}


def _drivers(cur: psycopg.Cursor, sites: list[tuple[int, int, str]], rng: random.Random) -> list:  # type: ignore[type-arg]
    """20 drivers, each a member of a few private or semi-public sites of one operator."""
    password = hash_password(DRIVER_PASSWORD)
    emails = []
    closed = [s for s in sites if s[2] != "public"]
    for n in range(1, 21):
        email = f"bench-driver-{n}@example.com"
        cur.execute(
            "INSERT INTO users (email, password_hash, role, is_active, created_at) "
            "VALUES (%s, %s, 'driver', true, now()) RETURNING id",
            (email, password),
        )
        (uid,) = cur.fetchone()  # type: ignore[misc]
        cur.execute("INSERT INTO drivers VALUES (%s, '', 'pl', '', '', '', '', '', '', '')", (uid,))
        sid, op, _ = rng.choice(closed)
        cur.execute(
            "INSERT INTO memberships (driver_id, operator_id, price_group_id, source,"
            " billing_mode, starts_at, created_at) VALUES (%s, %s, %s, 'code', 'per_session',"
            " now() - interval '1 day', now()) RETURNING id",
            (uid, op, 2 * op - 1),
        )
        (mid,) = cur.fetchone()  # type: ignore[misc]
        same_op = [s[0] for s in closed if s[1] == op and s[0] != sid]
        for site_id in [sid, *rng.sample(same_op, min(3, len(same_op)))]:
            cur.execute("INSERT INTO membership_sites VALUES (%s, %s)", (mid, site_id))
        emails.append(email)
    return emails


def describe_machine(url: str) -> None:
    """What the figures were measured on: they mean little without it."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                  if ln.startswith("model name")]  # fmt: skip
        cpu = models[0] if models else cpu
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}: {os.cpu_count()} x {cpu}, "
          f"PostgreSQL {row[0] if row else '?'}, Python {sys.version.split()[0]}, "
          f"load average {load}")  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_api(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-" + "k" * 40}
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(  # noqa: S603 - our own venv's gunicorn, fixed arguments
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
            "backend.app:create_app()",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if request(port, "/health")[0] == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the API did not start within 30 s")


def request(
    port: int, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST" if body else "GET", path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def login(port: int, email: str) -> dict[str, str]:
    body = json.dumps({"email": email, "password": DRIVER_PASSWORD}).encode()
    status, data = request(port, "/auth/login", {"Content-Type": "application/json"}, body)
    if status != 200:
        raise SystemExit(f"login failed: {status} {data[:200]!r}")
    return {"Authorization": "Bearer " + json.loads(data)["access_token"]}


def search_request(rng: random.Random, tokens: list[dict[str, str]]) -> tuple[str, dict]:  # type: ignore[type-arg]
    """A search as the app would send it: where people are, the radii they use."""
    lat, lon = random_place(rng, 0.8)
    params: dict[str, object] = {"lat": round(lat, 5), "lon": round(lon, 5)}
    params["radius_km"] = pick(rng, RADII_KM)
    if rng.random() < 0.2:
        params["plug_type"] = rng.choice(["ccs2", "type2"])
    if rng.random() < 0.15:
        params["min_power_kw"] = rng.choice(["11", "50", "150"])
    if rng.random() < 0.25:
        params["available_now"] = "true"
    if rng.random() < 0.05:
        params["operator_id"] = rng.randint(1, 400)
    page = rng.choices([1, 2, 3], weights=[85, 10, 5])[0]
    if page > 1:
        params["page"] = page
    if rng.random() < 0.1:
        params["page_size"] = 50
    headers = rng.choice(tokens) if tokens and rng.random() < 0.5 else {}
    return "/charge-points?" + urlencode(params), headers


def timed(port: int, path: str, headers: dict[str, str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    status, body = request(port, path, headers)
    elapsed = (time.perf_counter() - start) * 1000
    if status != 200:
        raise SystemExit(f"{path}: HTTP {status} {body[:300]!r}")
    return elapsed, body


def percentiles(samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98], "max": max(samples)}


def measure(port: int, n: int, tokens: list[dict[str, str]], deadline: float) -> None:
    rng = random.Random(7)
    for _ in range(min(300, n)):  # warm-up: connections, caches, the planner
        timed(port, *search_request(rng, tokens))
        timed(port, "/health", {})
    search_ms: list[float] = []
    health_ms: list[float] = []
    found: list[int] = []
    by_radius: dict[object, list[float]] = {}
    for _ in range(n):
        if time.monotonic() > deadline:
            print(f"time budget reached after {len(search_ms)} requests")
            break
        path, headers = search_request(rng, tokens)
        # Interleaved, so both endpoints see the same machine at the same moment.
        ms, _ = timed(port, "/health", {})
        health_ms.append(ms)
        ms, body = timed(port, path, headers)
        search_ms.append(ms)
        found.append(len(json.loads(body)))
        by_radius.setdefault(parse_qs(urlsplit(path).query)["radius_km"][0], []).append(ms)
    s, h = percentiles(search_ms), percentiles(health_ms)
    print(f"\n{len(search_ms)} requests each, sequential, one client, gunicorn 2 sync workers")
    print(f"{'endpoint':<16}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}   (ms)")
    for name, p in (("search", s), ("health (trivial)", h)):
        print(f"{name:<16}" + "".join(f"{p[k]:>9.2f}" for k in ("p50", "p95", "p99", "max")))
    print(f"ratio search/health: p50 {s['p50'] / h['p50']:.2f}x, p99 {s['p99'] / h['p99']:.2f}x")
    print(f"items per page: mean {statistics.mean(found):.1f}")
    for radius, samples in sorted(by_radius.items(), key=lambda kv: float(str(kv[0]))):
        p = percentiles(samples) if len(samples) > 1 else {"p50": samples[0], "p99": samples[0]}
        print(f"  radius {radius:>3} km: {len(samples):>5} searches, p50 {p['p50']:.2f}, "
              f"p99 {p['p99']:.2f} ms")  # fmt: skip
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end: {load} (other work on the machine skews the figures)")
    ok = s["p99"] < 25 and s["p99"] / h["p99"] < 5
    print("target (p99 < 25 ms, p99 ratio < 5x):", "MET" if ok else "MISSED")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--max-seconds", type=int, default=900, help="overall time budget")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    deadline = time.monotonic() + args.max_seconds
    base, _, _ = ADMIN_URL.rpartition("/")
    url = f"{base}/{DB_NAME}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    server = None
    try:
        upgrade(url)
        started = time.monotonic()
        counts = load(url, args.points, random.Random(42))
        took = time.monotonic() - started
        print(
            f"loaded {counts['charge_points']:,} charge points, {counts['connectors']:,} "
            f"connectors on {counts['sites']:,} sites in {took:.1f} s"
        )
        port = free_port()
        server = start_api(url, port)
        describe_machine(url)
        tokens = [login(port, email) for email in counts["drivers"]]  # type: ignore[attr-defined]
        measure(port, args.requests, tokens, deadline)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if not args.keep:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
