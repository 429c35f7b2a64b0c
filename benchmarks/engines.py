"""Benchmark both engines on the same workloads in one run: the embedded engine (Polars +
delta-rs) against Spark (local[*] + Delta Lake) on this machine.

    uv run python benchmarks/engines.py                  # 4,700 units x 1 day and x 10 days
    uv run python benchmarks/engines.py --days 1

Each workload is simulated once (not timed). Each engine then runs `altaviz pipeline
--skip-ml` in a fresh child process on an empty lakehouse. Spark's start-up cost (JVM,
session, Delta's jars from the Ivy cache) is measured on its own, by a child that only starts
the session, and reported apart from the pipeline's time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _child import simulate_fleet
from pipeline import run_pipeline

START_SESSION = (
    "from altaviz.engines.spark_session import spark_session; spark_session().range(1).count()"
)


def spark_startup_s() -> float:
    """Seconds for a fresh process to import PySpark and start a Delta-enabled session."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", START_SESSION], check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--compressors", type=int, default=4700)
    parser.add_argument("--days", type=int, nargs="+", default=[1, 10])
    args = parser.parse_args()
    startup = spark_startup_s()
    print(f"altaviz pipeline --skip-ml, {args.compressors:,} compressors, {os.cpu_count()} cores")
    print(f"  spark start-up (process, JVM, Delta session): {startup:.1f} s")
    results = []
    for days in args.days:
        with tempfile.TemporaryDirectory(prefix="altaviz-engines-") as tmp:
            source = os.path.join(tmp, "fleet")
            simulate_fleet(Path(source), args.compressors, days, start="2026-01-01T00:00Z")
            timed = {
                e: run_pipeline(
                    source, os.path.join(tmp, f"lake-{e}"), False, "--skip-db", "--engine", e
                )
                for e in ("polars", "spark")
            }
        p, s = timed["polars"], timed["spark"]
        assert p["summary"]["rows"] == s["summary"]["rows"], "the engines disagree on row counts"
        ratio = s["wall_s"] / p["wall_s"]
        print(
            f"  {days:>2} day(s), {p['summary']['rows']['bronze']:,} readings: "
            f"polars {p['wall_s']:6.1f} s, spark {s['wall_s']:6.1f} s "
            f"({s['wall_s'] - startup:6.1f} s without start-up): embedded {ratio:.1f}x faster"
        )
        results.append(
            {
                "days": days,
                "polars_s": p["wall_s"],
                "spark_s": s["wall_s"],
                "spark_startup_s": startup,
                "ratio": ratio,
            }
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
