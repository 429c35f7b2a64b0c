"""Benchmark both engines on the same workloads in one run: the embedded engine (Polars +
delta-rs) against Spark (local[*] + Delta Lake) on this machine.

    uv run python benchmarks/engines.py                      # every workload below
    uv run python benchmarks/engines.py --workloads 4700x1 4700x10
    uv run python benchmarks/engines.py --workloads 4700x1 --ml   # with the ML stage

Workloads are units x days: 4,700 x 1, 4,700 x 10, 4,700 x 30 and 20,000 x 3 by default.
Each is simulated once (not timed). Each engine then runs `altaviz pipeline --skip-ml` in a
fresh child process on an empty lakehouse, with its default settings (Spark's driver memory
included). For each run the benchmark prints the pipeline's own time (the run's record,
without the process's start), the process's wall time, rows per second, and the peak memory
of the process and every process it started (Spark's JVM and Python workers). For Spark it
also prints each stage's time and Spark jobs, and the dates per batch. Spark's start-up cost
(JVM, session, Delta's jars from the Ivy cache) is measured on its own. ``--ml`` runs the ML
stage too (each lakehouse keeps its own MLflow store and trains its first model).
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

from _child import ALTAVIZ, measure_tree, simulate_fleet

START_SESSION = (
    "from altaviz.engines.spark_session import spark_session; spark_session().range(1).count()"
)
WORKLOADS = ("4700x1", "4700x10", "4700x30", "20000x3")


def spark_startup_s() -> float:
    """Seconds for a fresh process to import PySpark and start a Delta-enabled session."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", START_SESSION], check=True, capture_output=True)
    return time.perf_counter() - began


def run_engine(source: str, lakehouse: str, engine: str, ml: bool = False) -> dict:
    """`altaviz pipeline --json` (``--skip-ml`` unless ``ml``) on ``engine`` in a fresh
    child process."""
    cmd = [*ALTAVIZ, "pipeline", "--json", "--skip-db", "--engine", engine]
    cmd += [] if ml else ["--skip-ml"]
    cmd += ["--source", source, "--lakehouse", lakehouse]
    return measure_tree(cmd, ok_codes=(0, 1))


def workload(text: str) -> tuple[int, int]:
    """``UNITSxDAYS`` as (units, days)."""
    units, _, days = text.partition("x")
    return int(units), int(days)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), type=str)
    parser.add_argument("--ml", action="store_true", help="run the ML stage too")
    args = parser.parse_args()
    startup = spark_startup_s()
    print(f"altaviz pipeline{'' if args.ml else ' --skip-ml'}, {os.cpu_count()} cores")
    print(f"  spark start-up (process, JVM, Delta session): {startup:.1f} s")
    results = []
    for text in args.workloads:
        units, days = workload(text)
        with tempfile.TemporaryDirectory(prefix="altaviz-engines-") as tmp:
            source = os.path.join(tmp, "fleet")
            simulate_fleet(Path(source), units, days, start="2026-01-01T00:00Z")
            timed = {
                e: run_engine(source, os.path.join(tmp, f"lake-{e}"), e, args.ml) for e in ENGINES
            }
        p, s = timed["polars"], timed["spark"]
        assert p["summary"]["rows"] == s["summary"]["rows"], "the engines disagree on row counts"
        readings = p["summary"]["rows"]["bronze"]
        print(f"  {units:,} units x {days} day(s), {readings:,} readings:")
        for name, r in timed.items():
            pipeline_s = r["summary"]["duration_s"]
            rate = readings / pipeline_s
            print(
                f"    {name:<6} pipeline {pipeline_s:7.1f} s ({rate:,.0f} rows/s), "
                f"process {r['wall_s']:7.1f} s, peak memory {r['peak_mb']:,.0f} MB"
            )
        jobs = s["summary"].get("spark_jobs", {})
        stages = ", ".join(
            f"{k} {v:.1f} s / {jobs.get(k, 0)} jobs" for k, v in s["summary"]["durations"].items()
        )
        print(f"    spark stages: {stages}")
        results.append(
            {
                "units": units,
                "days": days,
                "readings": readings,
                "polars_pipeline_s": p["summary"]["duration_s"],
                "spark_pipeline_s": s["summary"]["duration_s"],
                "polars_peak_mb": round(p["peak_mb"]),
                "spark_peak_mb": round(s["peak_mb"]),
                "spark_jobs": jobs,
                "spark_startup_s": round(startup, 1),
            }
        )
    print(json.dumps(results))


ENGINES = ("polars", "spark")

if __name__ == "__main__":
    main()
