"""Benchmark: pricing 1,000,000 charging sessions with the pure core (shared/).

    .venv/bin/python bench/pricing.py [--sessions 1000000] [--seed 2026] [--repeat 3]

It generates, before any timing and from a seed, a year (2026) of sessions at Polish and
Norwegian sites under every pricing model: fixed price per kWh (two price groups, price
changes during the year), fixed price plus an idle fee limited to a daily window (day
windows, windows across midnight, grace minutes, and a share of sessions idling across
the 2026 clock changes in Europe/Warsaw and Europe/Oslo), platform-priced (PUB) stations
at the driver's plan price, and co-op sites on the variable cost model, whose sessions
are priced at period close: the month's supply invoice from the site meter and its
tariff, shared over the drivers by kWh (largest remainder).

Timed: each session looked up in its site's price history (the version in force at its
start) and priced (amounts exact, VAT split), in a shuffled mix; then the co-op periods
closed. Baseline, same run, same sessions: a bare loop of Decimal kWh × price quantized
half up to 0.01. Best of --repeat runs for both. Prints sessions/s, the baseline, the
ratio, a per-model breakdown and the cost of materialising explanations (lines, split).

Targets (issue #3): at least 100,000 sessions/s and under 4x the baseline.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.idle import IdleWindow  # noqa: E402
from shared.pricing import (  # noqa: E402
    Plan,
    PriceHistory,
    PriceVersion,
    PricingModel,
    Usage,
    price_sessions,
)
from shared.settlement import close_variable_cost_period  # noqa: E402
from shared.supply_tariff import (  # noqa: E402
    InvoiceForm,
    SupplyTariff,
    bundled_tariffs,
    supply_invoice,
    tariff_in_force,
)

CENT = Decimal("0.01")
CHUNK = 10_000  # sessions priced per call, like a page of a settlement run
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
COUNTRIES = {  # currency, VAT, site time zones
    "PL": ("PLN", Decimal("0.23"), "Europe/Warsaw"),
    "NO": ("NOK", Decimal("0.25"), "Europe/Oslo"),
}
# UTC moments of the 2026 changes (both zones change at 01:00 UTC)
CLOCK_CHANGES = [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)]
MIX = {"fixed": 0.35, "hotel": 0.30, "pub": 0.20, "coop": 0.15}


CoopPeriod = tuple[SupplyTariff, str, InvoiceForm, Decimal, date, date, list[tuple[str, int]]]


@dataclass
class Workload:
    priced: list[tuple[PriceHistory, Usage, Plan | None]]  # shuffled mix, priced one by one
    models: list[str]  # the model of each entry of `priced`
    coop: list[CoopPeriod]  # closed at period end
    baseline: list[tuple[Decimal, Decimal]]  # (kWh, price per kWh), one per session


def price(rng: random.Random, low: str, high: str) -> Decimal:
    lo, hi = int(Decimal(low) * 100), int(Decimal(high) * 100)
    return Decimal(rng.randint(lo, hi)).scaleb(-2)


def histories(rng: random.Random, model: PricingModel, n_sites: int) -> list[PriceHistory]:
    """Per site and price group (company, public): one to three versions in the year."""
    out = []
    for site in range(n_sites):
        country = rng.choice(list(COUNTRIES))
        currency, vat, zone = COUNTRIES[country]
        scale = "1" if currency == "PLN" else "2.5"
        windows = [
            IdleWindow(clock(8), clock(22), zone),
            IdleWindow(clock(22), clock(6), zone),  # across midnight
            IdleWindow(clock(7), clock(1), zone),  # across midnight, most of the day
            IdleWindow(clock(0), clock(0), zone),  # all day
        ]
        for group in ("company", "public"):
            changes = sorted(rng.sample(range(30, 330), rng.randint(0, 2)))
            versions = []
            for rev, day in enumerate([0, *changes], start=1):
                hotel = model == PricingModel.FIXED_WITH_IDLE
                versions.append(
                    PriceVersion(
                        f"site{site}-{group}-r{rev}",
                        YEAR_START + timedelta(days=day),
                        model,
                        currency,
                        vat,
                        energy_per_kwh=price(rng, "0.90", "2.90") * Decimal(scale)
                        if model != PricingModel.PLATFORM_PLAN
                        else Decimal(0),
                        idle_per_minute=price(rng, "0.10", "1.00") * Decimal(scale)
                        if hotel
                        else Decimal(0),
                        idle_window=rng.choice(windows) if hotel else None,
                        idle_grace_minutes=rng.choice([0, 0, 5, 10, 15]) if hotel else 0,
                    )
                )
            out.append(PriceHistory(versions))
    return out


def plans() -> dict[str, list[Plan]]:
    return {
        "PLN": [
            Plan("pay-per-use-pl", "Pay per use", "PLN", Decimal("2.69")),
            Plan("plus-pl", "Plus", "PLN", Decimal("1.99"), Decimal("49.00")),
            Plan("max-pl", "Max", "PLN", Decimal("1.59"), Decimal("129.00")),
        ],
        "NOK": [
            Plan("pay-per-use-no", "Pay per use", "NOK", Decimal("5.90")),
            Plan("plus-no", "Plus", "NOK", Decimal("4.49"), Decimal("99.00")),
        ],
    }


def a_session(rng: random.Random, hotel: bool) -> Usage:
    if hotel and rng.random() < 0.10:  # idling through a night when the clocks change
        start = rng.choice(CLOCK_CHANGES) - timedelta(minutes=rng.randint(60, 16 * 60))
    else:
        start = YEAR_START + timedelta(seconds=rng.randint(0, 364 * 86_400))
    meter = rng.randint(0, 10**9)
    wh = rng.randint(0, 80_000)
    charging = timedelta(seconds=rng.randint(5 * 60, 8 * 3600))
    full = start + charging if hotel and rng.random() < 0.85 else None
    idle = timedelta(seconds=rng.randint(0, 14 * 3600)) if hotel else timedelta(0)
    return Usage(meter, meter + wh, start, start + charging + idle, full)


def generate(n: int, seed: int) -> Workload:
    rng = random.Random(seed)
    sites = {
        "fixed": histories(rng, PricingModel.FIXED, 300),
        "hotel": histories(rng, PricingModel.FIXED_WITH_IDLE, 200),
        "pub": histories(rng, PricingModel.PLATFORM_PLAN, 150),
    }
    plan_list = plans()
    counts = {k: int(n * share) for k, share in MIX.items()}
    counts["fixed"] += n - sum(counts.values())
    # The models interleaved first, then every session built in that order: objects lie
    # in memory in the order they are priced, as when a job pages rows in; the baseline's
    # Decimals are built alongside, so both loops walk memory the same way.
    labels = [model for model in ("fixed", "hotel", "pub") for _ in range(counts[model])]
    rng.shuffle(labels)
    rows: list[tuple[str, PriceHistory, Usage, Plan | None]] = []
    baseline = []
    for model in labels:
        history = rng.choice(sites[model])
        usage = a_session(rng, model == "hotel")
        version = history.in_force(usage.started_at)
        plan = rng.choice(plan_list[version.currency]) if model == "pub" else None
        rows.append((model, history, usage, plan))
        baseline.append((usage.energy_kwh, plan.price_per_kwh if plan else version.energy_per_kwh))
    # Co-op sites: 60 blocks of flats per million sessions, 10–60 drivers each, a period
    # per month.
    tariff = tariff_in_force(bundled_tariffs(), date(2026, 1, 1))
    coop_sites = [
        (rng.choice(["C11em", "C21em"]), rng.choice(list(InvoiceForm)), rng.randint(10, 60))
        for _ in range(max(1, round(60 * n / 1_000_000)))  # ~200 sessions a month each
    ]
    periods = [(site, month) for site in range(len(coop_sites)) for month in range(1, 13)]
    sizes = [0] * len(periods)
    for _ in range(counts["coop"]):
        sizes[rng.randrange(len(periods))] += 1
    coop = []
    for (site, month), size in zip(periods, sizes, strict=True):
        group, form, n_drivers = coop_sites[site]
        drivers = [f"site{site}-driver{d}" for d in range(n_drivers)]
        sessions = [(rng.choice(drivers), rng.randint(0, 80_000)) for _ in range(size)]
        used = sum(wh for _, wh in sessions)
        metered = Decimal(used + rng.randint(0, used // 2 + 1000)).scaleb(-3)  # other loads
        first = date(2026, month, 1)
        last = date(2026 + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        coop.append((tariff, group, form, metered, first, last, sessions))
        unit = tariff.group(group).own_use_per_mwh.scaleb(-3)
        baseline.extend((Decimal(wh).scaleb(-3), unit) for _, wh in sessions)
    return Workload([(h, u, p) for _, h, u, p in rows], [m for m, _, _, _ in rows], coop, baseline)


def run_priced(entries: list[tuple[PriceHistory, Usage, Plan | None]]) -> int:
    """Price in pages of CHUNK sessions, as a job paging through the sessions would, and
    keep a checksum of the results (each page's results are dropped after it)."""
    checksum = 0
    for start in range(0, len(entries), CHUNK):
        for result in price_sessions(entries[start : start + CHUNK]):
            checksum += result.gross_minor
    return checksum


def run_coop(periods: list[CoopPeriod]) -> int:
    checksum = 0
    vat = COUNTRIES["PL"][1]
    for tariff, group, form, metered, first, last, sessions in periods:
        wh_by_driver: dict[str, int] = {}
        for driver, wh in sessions:
            wh_by_driver[driver] = wh_by_driver.get(driver, 0) + wh
        invoice = supply_invoice(tariff, group, metered, first, last, form)
        kwh = {d: Decimal(wh).scaleb(-3) for d, wh in wh_by_driver.items()}
        closed = close_variable_cost_period(invoice, kwh, vat)
        checksum += sum(s.cost.gross.minor for s in closed.shares)
    return checksum


def run_baseline(pairs: list[tuple[Decimal, Decimal]]) -> Decimal:
    total = Decimal(0)
    for kwh, unit in pairs:
        total += (kwh * unit).quantize(CENT, rounding=ROUND_HALF_UP)
    return total


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                  if ln.startswith("model name")]  # fmt: skip
        cpu = models[0] if models else cpu
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}: Python {sys.version.split()[0]} "
        f"({platform.python_implementation()}), {os.cpu_count()} CPUs x {cpu}, "
        f"load average {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3, help="best of N timed runs")
    args = parser.parse_args()
    print(machine())
    print()
    t0 = time.perf_counter()
    work = generate(args.sessions, args.seed)
    n_coop = sum(len(p[-1]) for p in work.coop)
    n = len(work.priced) + n_coop
    by_model = {m: work.models.count(m) for m in ("fixed", "hotel", "pub")}
    print(
        f"generated {n:,} sessions (seed {args.seed}) in {time.perf_counter() - t0:.1f} s: "
        + ", ".join(f"{m} {c:,}" for m, c in by_model.items())
        + f", co-op {n_coop:,} in {len(work.coop)} monthly periods"
    )

    # The generated sessions stand for rows a job would page in from the database: move
    # them out of the collector's way, or every full collection walks a million of them.
    gc.collect()
    gc.freeze()

    def pricing() -> tuple[int, int]:
        return run_priced(work.priced), run_coop(work.coop)

    run_priced(work.priced[:20_000])  # warm the per-version and per-window tables
    # Interleaved, so both see the same machine; the best of each.
    t_price = t_base = float("inf")
    checks: object = None
    base_total: object = None
    for _ in range(args.repeat):
        t, base_total = best_of(1, lambda: run_baseline(work.baseline))
        t_base = min(t_base, t)
        t, checks = best_of(1, pricing)
        t_price = min(t_price, t)
    rate, base_rate = n / t_price, n / t_base
    ratio = t_price / t_base
    print()
    for name, t, r in (("pricing", t_price, rate), ("baseline", t_base, base_rate)):
        print(f"{name:<9} {t:7.3f} s  {r:>12,.0f} sessions/s  ({1e6 / r:.2f} µs each)")
    print(f"ratio pricing/baseline: {ratio:.2f}x   (best of {args.repeat}, interleaved)")
    print(f"checksums (the same seed gives the same): gross {checks}, baseline {base_total}")

    print("\nper model (each timed alone, best of the same number of runs):")
    for model in ("fixed", "hotel", "pub"):
        subset = [e for e, m in zip(work.priced, work.models, strict=True) if m == model]
        t, _ = best_of(args.repeat, lambda s=subset: run_priced(s))
        print(f"  {model:<6} {len(subset):>9,} sessions  {len(subset) / t:>12,.0f} /s")
    t, _ = best_of(args.repeat, lambda: run_coop(work.coop))
    print(f"  co-op  {n_coop:>9,} sessions  {n_coop / t:>12,.0f} /s (period close)")

    sample = [history.price(u, p) for history, u, p in work.priced[:100_000]]
    t, _ = best_of(1, lambda: [(r.lines, r.split, r.inputs) for r in sample])
    print(
        f"\nexplanations materialised (lines, VAT split, inputs) for {len(sample):,} results:"
        f" {1e6 * t / len(sample):.2f} µs each"
    )
    ok = rate >= 100_000 and ratio < 4
    print(
        f"\ntargets (>= 100,000 sessions/s, ratio < 4x): {'MET' if ok else 'MISSED'} — {machine()}"
    )


if __name__ == "__main__":
    main()
