"""Benchmark (issue #4): N simulated chargers against the real OCPP bridge on PostgreSQL,
against a plain websockets JSON echo server measured in the same run.

    .venv/bin/python bench/ocpp_bridge.py [--chargers 2000] [--seconds 10] [--version 1.6]

It creates a fresh database (wattpass_bench_ocpp), migrates it, bulk-loads N commissioned
chargers with one connector each, the argon2 hash of their password (hashed once) and an
active charging session on every connector, all with COPY. Then, for the echo baseline
(bench/echo_baseline.py) and then for the bridge (`python -m ocpp_bridge`), each a
separate process on a free port of 127.0.0.1:

1. connect: all N chargers open a websocket (HTTP Basic auth on the bridge), send
   BootNotification and StatusNotification (Charging); the connect time runs until the
   last one is answered;
2. heartbeat phase: every charger sends Heartbeat, waits for the answer, sends the next
   (closed loop, one call in flight per connection) for --seconds;
3. meter phase: the same with MeterValues (one meterValue of two sampled values, energy
   register and power, with a fresh timestamp each: nothing is a replay).

The chargers run in `--generators` processes of their own (default 1), so the load
generator never shares an event loop (or a GIL) with the server it measures. Afterwards
the stored samples are counted: every acknowledged MeterValues must be in the database
(the bridge answers only after the commit). Prints messages/s, p50/p99 round-trip per
message kind, CPU per process, the bridge's memory per connection and the ratios.

Targets (issue #4, 2 cores): heartbeats >= 0.5x the echo baseline; >= 2,000 durably stored
meter values/s. Environment: WATTPASS_BENCH_PG (admin URL, default
postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing as mp
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# This file is called ocpp_bridge.py: its own folder must not shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

ADMIN_URL = os.environ.get("WATTPASS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = "wattpass_bench_ocpp"
PASSWORD = "bench-charger-secret-0123"  # noqa: S105 - throw-away chargers in a throw-away DB
PREFIX = "BENCH-"
START_WH = 1_000_000
PYTHON = sys.executable


# --- machine facts -----------------------------------------------------------------------


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def load_avg() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def proc_status(pid: int, key: str) -> int:
    """A /proc/<pid>/status memory line, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s() -> dict[int, float]:
    """CPU seconds of every postgres process we can see (the server is on this machine)."""
    found: dict[int, float] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if (d / "comm").read_text().strip() in ("postgres", "postmaster"):
                found[int(d.name)] = proc_cpu_s(int(d.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def postgres_cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the postgres processes used in between (those that ended meanwhile are lost)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout_s} s")


def raise_open_files(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, needed)
    if want > hard:
        try:  # root may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            want = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


# --- the database ------------------------------------------------------------------------


def light_hash(password: str) -> tuple[str, float, float]:
    """The chargers' stored hash, made once; and the verify time of it and of production's.

    The bench stores a low-cost argon2id hash (1 pass, 8 MiB, 1 lane) unless
    --production-argon2: hashes carry their parameters, so the bridge verifies each one at
    the cost it was made with. Production's cost (3 passes, 64 MiB, 4 lanes) is timed here
    so the connect figure can be scaled to it."""
    from argon2 import PasswordHasher

    from backend.security.passwords import hash_password, verify_password

    production = hash_password(password)
    began = time.perf_counter()
    verify_password(production, password)
    production_s = time.perf_counter() - began
    light = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password)
    began = time.perf_counter()
    verify_password(light, password)
    light_s = time.perf_counter() - began
    return light, light_s, production_s


def create_database(n: int, password_hash: str) -> str:
    from backend.db.migrate import upgrade

    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME
    upgrade(url.replace("postgresql://", "postgresql+psycopg://", 1))
    t0 = "2026-01-01T00:00:00Z"
    started = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    sites = (n + 19) // 20  # 20 chargers a site
    tables: dict[str, tuple[str, list[tuple[object, ...]]]] = {
        "operators": (
            "id, name, legal_name, tax_id, country, email, phone, created_at",
            [(1, "Bench Operator", "Bench Operator sp. z o.o.", "", "PL", "", "", t0)],
        ),
        "price_groups": (
            "id, operator_id, name, kind, created_at",
            [(1, 1, "Public", "public", t0)],
        ),
        "sites": (
            "id, operator_id, name, street, postal_code, city, country, latitude, longitude,"
            " timezone, currency, vat_rate, visibility, default_price_group_id, created_at,"
            " connector_bits",
            [
                (
                    s,
                    1,
                    f"Bench site {s}",
                    "ul. Testowa 1",
                    "00-001",
                    "Warszawa",
                    "PL",
                    52.2 + s * 1e-4,
                    21.0,
                    "Europe/Warsaw",
                    "PLN",
                    "0.23",
                    "public",
                    1,
                    t0,
                    0,
                )
                for s in range(1, sites + 1)
            ],
        ),
        "charge_points": (
            "id, site_id, ocpp_identity, password_hash, vendor, model, serial_number,"
            " firmware_version, ocpp_version, commissioned, status, created_at",
            [
                (
                    i,
                    (i - 1) // 20 + 1,
                    f"{PREFIX}{i:05d}",
                    password_hash,
                    "Wattpass",
                    "FleetSim",
                    f"SN{i}",
                    "1.0",
                    "1.6",
                    True,
                    "offline",
                    t0,
                )
                for i in range(1, n + 1)
            ],
        ),
        "connectors": (
            "id, charge_point_id, connector_id, plug_type, max_power_w, status",
            [(i, i, 1, "type2", 22000, "Charging") for i in range(1, n + 1)],
        ),
        "charging_sessions": (
            "id, charge_point_id, connector_id, ocpp_version, start_key, ocpp_transaction_id,"
            " id_tag, auth_status, currency, started_at, meter_start_wh, meter_start_source,"
            " stop_reason, charging_seen, low_power_count, clock_corrected, status,"
            " created_at, updated_at",
            [
                (
                    i,
                    i,
                    1,
                    "1.6",
                    f"bench-{i}",
                    i,
                    f"TAG{i}",
                    "Accepted",
                    "PLN",
                    started,
                    START_WH,
                    "charger",
                    "",
                    True,
                    0,
                    False,
                    "active",
                    started,
                    started,
                )
                for i in range(1, n + 1)
            ],
        ),
    }
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for table, (columns, rows) in tables.items():
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
        cur.execute("ANALYZE")
    return url


def drop_database() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def commits(url: str) -> int:
    """Transactions committed in the bench database so far (pg_stat_database, which
    PostgreSQL updates about once a second: read after a pause)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        return int(row[0]) if row else 0


def count_samples(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM meter_samples").fetchone()
        return int(row[0]) if row else 0


# --- the load generator (runs in its own process) ------------------------------------------


@dataclass
class PhaseStats:
    acked: int = 0
    errors: int = 0
    closed: int = 0
    latencies: list[float] = field(default_factory=list)


def generator_main(pipe: Any, first: int, count: int, version: str, handshakes: int) -> None:
    """One load-generator process: chargers `first` … `first + count - 1`, driven by the
    commands the parent sends through `pipe` (connect, phase, close)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_generator(pipe, first, count, version, handshakes))


async def _generator(pipe: Any, first: int, count: int, version: str, handshakes: int) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Subprotocol

    from ocpp_bridge.simulator.clock import iso
    from ocpp_bridge.simulator.fleet import FleetStats, LeanCharger, _CallFailed

    loop = asyncio.get_running_loop()
    stats = FleetStats()
    subprotocol = Subprotocol("ocpp1.6" if version == "1.6" else "ocpp2.0.1")
    base_time = datetime.now(UTC) - timedelta(hours=20)  # after the sessions' start
    chargers: list[tuple[LeanCharger, Any]] = []

    async def receive() -> Any:
        return await loop.run_in_executor(None, pipe.recv)

    async def open_one(identity: str, url: str, gate: asyncio.Semaphore) -> Any:
        charger = LeanCharger(identity, PASSWORD, version, stats)
        charger.energy_wh = START_WH
        for attempt in range(3):
            try:
                async with gate:
                    ws = await connect(
                        f"{url}/{identity}",
                        subprotocols=[subprotocol],
                        additional_headers=charger.headers(),
                        compression=None,
                        proxy=None,
                        max_size=65_536,
                        max_queue=4,
                        write_limit=4096,
                        ping_interval=None,
                        open_timeout=300,
                    )
                await charger.call(ws, "BootNotification", charger.boot_payload())
                status = charger.status_payload(iso(datetime.now(UTC)))
                if version == "1.6":
                    status["status"] = "Charging"  # "Available" would end the session
                else:
                    status["connectorStatus"] = "Occupied"
                await charger.call(ws, "StatusNotification", status)
                chargers.append((charger, ws))
                return
            except Exception:  # counted; a few retries, then given up
                stats.connect_failures += 1
                await asyncio.sleep(0.5 * (attempt + 1))

    async def drive(charger: LeanCharger, ws: Any, action: str, stop_at: float,
                    out: PhaseStats, k: list[int]) -> None:  # fmt: skip
        while loop.time() < stop_at:
            if action == "Heartbeat":
                payload: dict[str, Any] = {}
            else:
                k[0] += 1
                charger.energy_wh += 3  # 11 kW for ~1 s
                at = iso(base_time + timedelta(seconds=k[0]))
                payload = charger.meter_payload(at, 11_000)
            began = loop.time()
            try:
                await charger.call(ws, action, payload)
            except _CallFailed:
                out.errors += 1
                continue
            except (ConnectionClosed, OSError):
                out.closed += 1
                return
            out.acked += 1
            out.latencies.append(loop.time() - began)

    sequence: dict[int, list[int]] = {}  # per charger: meter timestamps used
    while True:
        command = await receive()
        if command[0] == "connect":
            url = command[1]
            chargers.clear()
            stats.connect_failures = 0
            gate = asyncio.Semaphore(handshakes)
            cpu0, began = time.process_time(), time.perf_counter()
            await asyncio.gather(
                *(open_one(f"{PREFIX}{i:05d}", url, gate) for i in range(first, first + count))
            )
            sequence = {id(c): [0] for c, _ in chargers}
            pipe.send({
                "connected": len(chargers), "failures": stats.connect_failures,
                "seconds": time.perf_counter() - began, "cpu_s": time.process_time() - cpu0,
            })  # fmt: skip
        elif command[0] == "phase":
            _, action, start_wall, seconds = command
            await asyncio.sleep(max(0.0, start_wall - time.time()))
            out = PhaseStats()
            cpu0, began = time.process_time(), time.perf_counter()
            stop_at = loop.time() + seconds
            await asyncio.gather(
                *(drive(c, ws, action, stop_at, out, sequence[id(c)]) for c, ws in chargers)
            )
            pipe.send({
                "acked": out.acked, "errors": out.errors, "closed": out.closed,
                "seconds": time.perf_counter() - began, "cpu_s": time.process_time() - cpu0,
                "latencies": out.latencies,
            })  # fmt: skip
        elif command[0] == "close":
            await asyncio.gather(*(ws.close() for _, ws in chargers), return_exceptions=True)
            pipe.send({"closed": len(chargers)})
            return


class Fleet:
    """The generator processes, commanded together."""

    def __init__(self, n: int, generators: int, version: str, handshakes: int) -> None:
        ctx = mp.get_context("spawn")
        self.pipes: list[Any] = []
        self.procs: list[Any] = []
        per = -(-n // generators)
        for g in range(generators):
            first, count = 1 + g * per, min(per, n - g * per)
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(
                target=generator_main,
                args=(theirs, first, count, version, max(1, handshakes // generators)),
                daemon=True,
            )
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)

    def ask(self, command: tuple[Any, ...]) -> list[dict[str, Any]]:
        for pipe in self.pipes:
            pipe.send(command)
        return [pipe.recv() for pipe in self.pipes]

    def close(self) -> None:
        self.ask(("close",))
        for proc in self.procs:
            proc.join(10)


# --- measuring one server ------------------------------------------------------------------


def pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


@dataclass
class Phase:
    action: str
    acked: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu: float  # share of one core
    generator_cpu: float
    postgres_cpu: float
    machine_busy: float  # share of all cores

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0


def run_phase(fleet: Fleet, pid: int, action: str, seconds: float) -> Phase:
    cpu0, pg0, (busy0, total0) = proc_cpu_s(pid), postgres_cpu_s(), machine_busy()
    results = fleet.ask(("phase", action, time.time() + 0.3, seconds))
    cpu1, pg1, (busy1, total1) = proc_cpu_s(pid), postgres_cpu_s(), machine_busy()
    elapsed = max(r["seconds"] for r in results)
    latencies = sorted(x for r in results for x in r["latencies"])
    return Phase(
        action,
        acked=sum(r["acked"] for r in results),
        errors=sum(r["errors"] + r["closed"] for r in results),
        seconds=elapsed,
        p50_ms=1000 * pct(latencies, 0.50),
        p99_ms=1000 * pct(latencies, 0.99),
        server_cpu=(cpu1 - cpu0) / elapsed,
        generator_cpu=sum(r["cpu_s"] for r in results) / elapsed,
        postgres_cpu=postgres_cpu_delta(pg0, pg1) / elapsed,
        machine_busy=(busy1 - busy0) / max(1, total1 - total0),
    )


@dataclass
class Run:
    name: str
    connected: int = 0
    failures: int = 0
    connect_s: float = 0.0
    connect_commits: int = 0
    idle_kib: int = 0
    connected_rss_kib: int = 0
    hwm_kib: int = 0
    rounds: dict[str, list[Phase]] = field(default_factory=dict)

    @property
    def phases(self) -> dict[str, Phase]:
        """The best round of each kind: neighbours only ever slow a round down."""
        return {k: max(v, key=lambda p: p.rate) for k, v in self.rounds.items()}

    def per_connection_kib(self, peak: bool = True) -> float:
        top = self.hwm_kib if peak else self.connected_rss_kib
        return (top - self.idle_kib) / self.connected if self.connected else float("nan")


def connect(run: Run, proc: subprocess.Popen[bytes], url: str, fleet: Fleet, n: int) -> None:
    run.idle_kib = proc_status(proc.pid, "VmRSS")
    began = time.perf_counter()
    results = fleet.ask(("connect", url))
    run.connect_s = time.perf_counter() - began
    run.connected = sum(r["connected"] for r in results)
    run.failures = sum(r["failures"] for r in results)
    run.connected_rss_kib = proc_status(proc.pid, "VmRSS")
    print(f"  {run.name}: {run.connected:,} of {n:,} connected in {run.connect_s:.1f} s"
          f" ({run.failures} failed attempts); load average {load_avg()}", flush=True)  # fmt: skip


def phase(run: Run, proc: subprocess.Popen[bytes], fleet: Fleet, action: str, seconds: float,
          round_no: int) -> None:  # fmt: skip
    p = run_phase(fleet, proc.pid, action, seconds)
    run.rounds.setdefault(action, []).append(p)
    print(
        f"  round {round_no} {run.name:<6} {action:<11}: {p.rate:>7,.0f}/s, p50 {p.p50_ms:6.1f}"
        f" ms, p99 {p.p99_ms:6.1f} ms, errors {p.errors}, {run.name} cpu "
        f"{p.server_cpu:.0%} ({1e6 * p.server_cpu / max(p.rate, 1):.0f} us/msg), "
        f"generator cpu {p.generator_cpu:.0%}, machine {p.machine_busy:.0%}",
        flush=True,
    )


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_echo(port: int, log: io.TextIOWrapper) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(  # noqa: S603
        [PYTHON, str(ROOT / "bench" / "echo_baseline.py"), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    wait_port(port, proc)
    return proc


def start_bridge(port: int, db_url: str, profile: str | None, log: io.TextIOWrapper,
                 out_dir: Path, switch_interval: float | None,
                 preload: Path | None) -> subprocess.Popen[bytes]:  # fmt: skip
    env = os.environ | {
        "DATABASE_URL": db_url.replace("postgresql://", "postgresql+psycopg://", 1),
        "WATTPASS_OCPP_HOST": "127.0.0.1",
        "WATTPASS_OCPP_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    command = [PYTHON, "-m", "ocpp_bridge", "--port", str(port)]
    if profile == "cprofile":
        command = [PYTHON, "-m", "cProfile", "-o", str(out_dir / "bridge.prof"), "-m",
                   "ocpp_bridge", "--port", str(port)]  # fmt: skip
    elif switch_interval is not None or preload is not None:  # experiments
        command = [PYTHON, "-c", "import runpy, sys; interval, preload = sys.argv[1:3];"
                   " interval and sys.setswitchinterval(float(interval));"
                   " preload and runpy.run_path(preload);"
                   " sys.argv = ['ocpp_bridge', *sys.argv[3:]];"
                   " runpy.run_module('ocpp_bridge', run_name='__main__', alter_sys=True)",
                   str(switch_interval or ""), str(preload or ""), "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)  # noqa: S603
    wait_port(port, proc)
    return proc


def pyspy(pid: int, seconds: float, out: Path, gil: bool) -> subprocess.Popen[bytes] | None:
    """py-spy on the bridge: raw stacks per thread (only the GIL holder's with `gil`)."""
    exe = os.environ.get("PY_SPY", "py-spy")
    try:
        return subprocess.Popen(  # noqa: S603
            [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
             "--rate", "100", "--format", "raw", "--threads", "--output", str(out),
             "--nonblocking", *(["--gil"] if gil else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
    except OSError as exc:
        print(f"  py-spy not started: {exc}")
        return None


# --- the report ----------------------------------------------------------------------------


def report(args: argparse.Namespace, echo: Run, bridge: Run, stored_rows: int,
           writer_line: str, hashes: tuple[float, float]) -> bool:  # fmt: skip
    print()
    print(
        f"connections: echo {echo.connected:,}/{args.chargers:,} in {echo.connect_s:.1f} s; "
        f"bridge {bridge.connected:,}/{args.chargers:,} in {bridge.connect_s:.1f} s "
        f"({bridge.connected / bridge.connect_s:,.0f}/s; argon2 verify "
        f"{1000 * hashes[0]:.1f} ms as stored here, {bridge.connect_commits:,} PostgreSQL "
        f"commits while connecting; {1000 * hashes[1]:.0f} ms at production "
        f"cost: a cold storm of {args.chargers:,} would take ~"
        f"{args.chargers * hashes[1] / 2:.0f} s on the bridge's 2 argon2 threads)"
    )
    print()
    head = (
        f"{'phase':<13}{'server':<8}{'msg/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'server cpu':>12}{'us/msg':>8}{'gen cpu':>9}{'pg cpu':>8}{'machine':>9}"
    )
    print(head)
    print("-" * len(head))
    for action in ("Heartbeat", "MeterValues"):
        for run in (echo, bridge):
            p = run.phases[action]
            print(f"{action:<13}{run.name:<8}{p.rate:>9,.0f}{p.p50_ms:>9.1f}{p.p99_ms:>9.1f}"
                  f"{p.errors:>8}{p.server_cpu:>11.0%}{1e6 * p.server_cpu / p.rate:>8.0f}"
                  f"{p.generator_cpu:>9.0%}"
                  f"{p.postgres_cpu:>8.0%}{p.machine_busy:>9.0%}")  # fmt: skip
    print(f"(best of {args.rounds} alternating rounds; cpu: share of one core over the phase;"
          f" us/msg: server CPU per message, all its threads; machine: share of all cores, "
          f"neighbours included)")  # fmt: skip
    hb = bridge.phases["Heartbeat"].rate / echo.phases["Heartbeat"].rate
    mv = bridge.phases["MeterValues"].rate / echo.phases["MeterValues"].rate
    rounds = bridge.rounds["MeterValues"]
    acked = sum(p.acked for p in rounds)
    seconds = sum(p.seconds for p in rounds)
    expected = 2 * acked  # two sampled values a message
    stored_rate = stored_rows / 2 / seconds
    print()
    print(f"ratio bridge/echo: Heartbeat {hb:.2f}x, MeterValues {mv:.2f}x")
    print(f"durable: {acked:,} MeterValues acknowledged over {seconds:.1f} s ({expected:,} "
          f"samples), {stored_rows:,} sample rows in PostgreSQL -> "
          f"{'EQUAL' if stored_rows == expected else 'MISMATCH'}; "
          f"{stored_rate:,.0f} meter values/s stored on average over the rounds "
          f"({2 * stored_rate:,.0f} samples/s; best round "
          f"{bridge.phases['MeterValues'].rate:,.0f}/s)")  # fmt: skip
    if writer_line:
        print(f"group-commit writer: {writer_line}")
    print(
        f"memory: bridge idle {bridge.idle_kib / 1024:.1f} MiB, connected "
        f"{bridge.connected_rss_kib / 1024:.1f} MiB, peak (VmHWM) {bridge.hwm_kib / 1024:.1f} "
        f"MiB -> {bridge.per_connection_kib():.1f} KiB per connection at peak "
        f"({bridge.per_connection_kib(peak=False):.1f} KiB once connected); echo "
        f"{echo.per_connection_kib():.1f} KiB per connection at peak"
    )
    hb_ok = hb >= 0.5
    mv_ok = stored_rate >= 2000 and stored_rows == expected
    print()
    print(f"target heartbeats >= 0.5x echo: {hb:.2f}x -> {'met' if hb_ok else 'NOT met'}")
    print(
        f"target >= 2,000 durably stored meter values/s: {stored_rate:,.0f}/s -> "
        f"{'met' if mv_ok else 'NOT met'}"
    )
    print(f"load average at the end: {load_avg()}")
    return hb_ok and mv_ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chargers", type=int, default=2000, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--version", choices=("1.6", "2.0.1"), default="1.6")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds of each phase (the best counts)"
    )
    parser.add_argument("--generators", type=int, default=1, help="load-generator processes")
    parser.add_argument("--handshakes", type=int, default=100, help="handshakes at once")
    parser.add_argument(
        "--production-argon2",
        action="store_true",
        help="store a production-cost hash (connecting then takes minutes)",
    )
    parser.add_argument(
        "--profile",
        choices=("py-spy", "py-spy-gil", "cprofile"),
        help="profile the bridge: py-spy (PY_SPY=path, default on PATH) over "
        "each of its phases, raw stacks by thread (py-spy-gil: only the "
        "thread holding the GIL, i.e. where the interpreter's time goes); "
        "or cProfile of its event-loop thread for the whole run; files "
        "in --out",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("/tmp/wattpass-bench-ocpp"),  # noqa: S108
        help="server logs and profiles",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        help="run the bridge with sys.setswitchinterval(S) (default Python's "
        "0.005): an experiment on the GIL hand-off between its event loop "
        "and its database threads",
    )
    parser.add_argument(
        "--bridge-preload",
        type=Path,
        help="a Python file run in the bridge process before it starts: try an "
        "optimisation (a monkeypatch) without editing the bridge",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()  # fmt: skip

    limit = raise_open_files(2 * args.chargers + 1024)
    args.out.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(ADMIN_URL) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        sync = conn.execute("SHOW synchronous_commit").fetchone()[0]  # type: ignore[index]
        fsync = conn.execute("SHOW fsync").fetchone()[0]  # type: ignore[index]
    from importlib.metadata import version as package_version

    print(
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}: {os.cpu_count()} x {cpu_model()}, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Linux {platform.release()}, Python {platform.python_version()}, websockets "
        f"{package_version('websockets')}, PostgreSQL {pg_version} (fsync={fsync}, "
        f"synchronous_commit={sync}); open files {limit}; load average {load_avg()}"
    )
    print(f"layout: 2 server processes (echo baseline, bridge; their phases alternate), each "
          f"with {args.generators} load-generator process(es) of its own, + PostgreSQL, on "
          f"{os.cpu_count()} cores; {args.chargers:,} chargers a server, "
          f"OCPP {args.version}, {args.seconds:g} s a phase, closed loop (one call in "
          f"flight per connection)")  # fmt: skip

    began = time.perf_counter()
    stored_hash, light_s, production_s = light_hash(PASSWORD)
    if args.production_argon2:
        from backend.security.passwords import hash_password

        stored_hash, light_s = hash_password(PASSWORD), production_s
    db_url = create_database(args.chargers, stored_hash)
    if args.switch_interval or args.bridge_preload:
        print(
            f"EXPERIMENT: bridge switch interval {args.switch_interval}, preload "
            f"{args.bridge_preload}"
        )
    print(f"database {DB_NAME}: migrated and {args.chargers:,} chargers, connectors and active "
          f"sessions loaded in {time.perf_counter() - began:.1f} s")  # fmt: skip

    # Both servers run and hold their N connections for the whole run, each driven by
    # its own generator process(es); the phases alternate echo, bridge, echo, bridge … so
    # a busy neighbour slows both alike, and the best round of each counts.
    echo_fleet = Fleet(args.chargers, args.generators, args.version, args.handshakes)
    bridge_fleet = Fleet(args.chargers, args.generators, args.version, args.handshakes)
    echo_log = (args.out / "echo.log").open("w")
    bridge_log = (args.out / "bridge.log").open("w")
    procs: list[subprocess.Popen[bytes]] = []
    spy = None
    ok = False
    try:
        echo_port, bridge_port = free_port(), free_port()
        echo_proc = start_echo(echo_port, echo_log)
        procs.append(echo_proc)
        bridge_proc = start_bridge(bridge_port, db_url, args.profile if args.profile ==
                                   "cprofile" else None, bridge_log, args.out,
                                   args.switch_interval, args.bridge_preload)  # fmt: skip
        procs.append(bridge_proc)
        time.sleep(1.0)  # settle: the idle baselines of memory
        echo, bridge = Run("echo"), Run("bridge")
        connect(echo, echo_proc, f"ws://127.0.0.1:{echo_port}/ocpp", echo_fleet, args.chargers)
        commits_before = commits(db_url)
        connect(bridge, bridge_proc, f"ws://127.0.0.1:{bridge_port}/ocpp", bridge_fleet,
                args.chargers)  # fmt: skip
        time.sleep(1.5)  # PostgreSQL publishes its counters about once a second
        bridge.connect_commits = commits(db_url) - commits_before - 1
        before = count_samples(db_url)
        for action in ("Heartbeat", "MeterValues"):
            for r in range(1, args.rounds + 1):
                phase(echo, echo_proc, echo_fleet, action, args.seconds, r)
                if args.profile in ("py-spy", "py-spy-gil"):  # bridge phases, a file each
                    out = args.out / f"bridge.{action}.{r}.{args.profile}.txt"
                    spy = pyspy(bridge_proc.pid, args.seconds, out, args.profile == "py-spy-gil")
                phase(bridge, bridge_proc, bridge_fleet, action, args.seconds, r)
                if spy is not None:
                    spy.wait(60)
                    spy = None
        echo.hwm_kib = proc_status(echo_proc.pid, "VmHWM")
        bridge.hwm_kib = proc_status(bridge_proc.pid, "VmHWM")
        echo_fleet.close()
        bridge_fleet.close()
        for proc in procs:
            stop(proc)
        bridge_log.flush()
        writer_line = ""
        for line in (args.out / "bridge.log").read_text().splitlines():
            if "closing:" in line:
                writer_line = line.split("closing:", 1)[1].strip()
        stored = count_samples(db_url) - before
        problems = [ln for ln in (args.out / "bridge.log").read_text().splitlines()
                    if " ERROR " in ln or " WARNING " in ln or "Traceback" in ln]  # fmt: skip
        print(f"bridge log: {len(problems)} warnings/errors ({args.out / 'bridge.log'})")
        for line in problems[:5]:
            print(f"  {line[:200]}")
        ok = report(args, echo, bridge, stored, writer_line, (light_s, production_s))
    finally:
        if spy is not None:
            spy.kill()
        for proc in procs:
            stop(proc)
        for proc in echo_fleet.procs + bridge_fleet.procs:
            if proc.is_alive():
                proc.terminate()
        if not args.keep:
            drop_database()
        else:
            print(f"kept database {DB_NAME}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
