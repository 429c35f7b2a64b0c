"""Benchmark `altaviz simulate`: wall time, rows/s and peak memory of the default fleet.

uv run python benchmarks/simulate.py                  # 4,700 units x 10 days, 3 runs
uv run python benchmarks/simulate.py --days 1 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from _child import measure

EARLIER_WALL_S, EARLIER_PEAK_MB = 276.0, 2100.0  # the spec's earlier implementation


def run_once(compressors: int, days: int, workers: int | None) -> dict:
    """One simulation in a fresh child process: its summary, wall time and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="altaviz-bench-") as tmp:
        cmd = [sys.executable, "-m", "altaviz", "simulate", "--json"]
        cmd += ["--compressors", str(compressors), "--days", str(days)]
        cmd += ["--start", "2026-01-01T00:00:00Z", "--output", os.path.join(tmp, "fleet")]
        if workers:
            cmd += ["--workers", str(workers)]
        return measure(cmd)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--compressors", type=int, default=4700)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    print(
        f"altaviz simulate: {args.compressors:,} compressors x {args.days} days, "
        f"{os.cpu_count()} cores, {args.repeat} runs"
    )
    runs = []
    for i in range(args.repeat):
        r = run_once(args.compressors, args.days, args.workers)
        rows = r["summary"]["rows"]
        runs.append(r)
        print(
            f"  run {i + 1}: {r['wall_s']:6.2f} s wall (process), "
            f"{r['summary']['duration_s']:6.2f} s in simulate, {rows:,} rows, "
            f"{rows / r['wall_s']:,.0f} rows/s, peak {r['peak_mb']:,.0f} MB"
        )
    best = min(runs, key=lambda r: r["wall_s"])
    peak = max(r["peak_mb"] for r in runs)
    rows = best["summary"]["rows"]
    print(
        f"best: {best['wall_s']:.2f} s wall, {rows / best['wall_s']:,.0f} rows/s; "
        f"peak memory {peak:,.0f} MB (max over runs); "
        f"vs earlier implementation ({EARLIER_WALL_S:.0f} s, {EARLIER_PEAK_MB:,.0f} MB): "
        f"{EARLIER_WALL_S / best['wall_s']:.0f}x faster"
    )


if __name__ == "__main__":
    main()
