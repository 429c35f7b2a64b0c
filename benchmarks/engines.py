"""Benchmark both engines on the same workloads in one run: the embedded engine (Polars +
delta-rs) against Spark (local[*] + Delta Lake) on this machine.

    uv run python benchmarks/engines.py                      # every workload below
    uv run python benchmarks/engines.py --workloads 4700x1 4700x10
    uv run python benchmarks/engines.py --workloads 4700x1 --ml   # with the ML stage

Workloads are units x days: 4,700 x 1, 4,700 x 10, 4,700 x 30 and 20,000 x 3 by default.
Each is simulated once (not timed). Each engine then runs `altaviz pipeline --skip-ml` in a
fresh child process on an empty lakehouse, with its default settings (Spark's driver memory
included). For each run the benchmark prints the pipeline's own time (the run's record,
without the process's start), the process's wall time, rows per second, the peak memory
of the process and every process it started (Spark's JVM and Python workers), and the
machine's CPU seconds over the run. For Spark it also prints each stage's time and Spark
jobs. Spark's start-up cost (JVM, session, Delta's jars from the Ivy cache) is measured on
its own. ``--ml`` runs the ML stage too (each lakehouse keeps its own MLflow store and
trains its first model).

On a shared host the same run's time can move by a fifth from one hour to the next.
``--repeat N`` runs every workload N times, in rounds over all of them, and reports the
median run; CPU seconds move far less than time. A fleet run over several lengths of history
is compared with the next shorter: times and CPU seconds against days (linear in history).

    uv run python benchmarks/engines.py --workloads 4700x10 4700x30 --engines spark --repeat 3
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _child import ALTAVIZ, machine_cpu, measure_tree, simulate_fleet

START_SESSION = (
    "from altaviz.engines.spark_session import spark_session; spark_session().range(1).count()"
)
WORKLOADS = ("4700x1", "4700x10", "4700x30", "20000x3")


def spark_startup() -> tuple[float, float]:
    """Seconds for a fresh process to import PySpark and start a Delta-enabled session, and
    the CPU seconds it takes."""
    began, cpu = time.perf_counter(), machine_cpu()[0]
    subprocess.run([sys.executable, "-c", START_SESSION], check=True, capture_output=True)
    return time.perf_counter() - began, machine_cpu()[0] - cpu


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
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each engine on each workload (median)"
    )
    parser.add_argument("--ml", action="store_true", help="run the ML stage too")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat takes a number of runs, 1 or more")
    startup, startup_cpu = spark_startup() if "spark" in args.engines else (0.0, 0.0)
    print(f"altaviz pipeline{'' if args.ml else ' --skip-ml'}, {os.cpu_count()} cores")
    if "spark" in args.engines:
        print(
            f"  spark start-up (process, JVM, Delta session): {startup:.1f} s, "
            f"CPU {startup_cpu:.0f} s"
        )
    loads = [workload(text) for text in args.workloads]
    with tempfile.TemporaryDirectory(prefix="altaviz-engines-") as tmp:
        sources = {}
        for units, days in loads:
            sources[units, days] = os.path.join(tmp, f"fleet-{units}x{days}")
            simulate_fleet(Path(sources[units, days]), units, days, start="2026-01-01T00:00Z")
        # Rounds over every workload, so a spell of a busy host falls on all of them alike.
        timed: dict[tuple[int, int, str], list[dict]] = {}
        for _ in range(args.repeat):
            for units, days in loads:
                for e in args.engines:
                    lake = os.path.join(tmp, f"lake-{e}")
                    r = run_engine(sources[units, days], lake, e, args.ml)
                    timed.setdefault((units, days, e), []).append(r)
                    shutil.rmtree(lake)
    results = [
        _report(units, days, {e: timed[units, days, e] for e in args.engines}, startup)
        for units, days in loads
    ]
    _print_history_scaling(results, args.engines, {"spark": startup_cpu})
    print(json.dumps(results))


def _report(units: int, days: int, runs: dict[str, list[dict]], startup: float) -> dict:
    """Print one workload's runs on each engine (the median run, and every run's time when
    there are several); return its figures."""
    counts = {e: r[0]["summary"]["rows"] for e, r in runs.items()}
    first = next(iter(counts.values()))
    assert all(c == first for c in counts.values()), "the engines disagree on row counts"
    readings = first["bronze"]
    print(f"  {units:,} units x {days} day(s), {readings:,} readings:")
    result: dict = {"units": units, "days": days, "readings": readings}
    for name, rs in runs.items():
        r = _median_run(rs)
        pipeline_s = r["summary"]["duration_s"]
        every = ""
        if len(rs) > 1:
            times = ", ".join(f"{x['summary']['duration_s']:.1f}" for x in rs)
            every = f"; runs {times} s"
        print(
            f"    {name:<6} pipeline {pipeline_s:7.1f} s ({readings / pipeline_s:,.0f} rows/s), "
            f"process {r['wall_s']:7.1f} s, peak memory {r['peak_mb']:,.0f} MB, "
            f"CPU {r['cpu_s']:.0f} s (steal {r['steal_s']:.1f} s){every}"
        )
        result |= {
            f"{name}_pipeline_s": pipeline_s,
            f"{name}_runs_s": [x["summary"]["duration_s"] for x in rs],
            f"{name}_cpu_s": round(r["cpu_s"], 1),
            f"{name}_peak_mb": round(r["peak_mb"]),
        }
        if name == "spark":
            jobs = r["summary"].get("spark_jobs", {})
            stages = ", ".join(
                f"{k} {v:.1f} s / {jobs.get(k, 0)} jobs"
                for k, v in r["summary"]["durations"].items()
            )
            print(f"    spark stages: {stages}")
            result |= {"spark_jobs": jobs, "spark_startup_s": round(startup, 1)}
    return result


def _median_run(runs: list[dict]) -> dict:
    """The run whose pipeline time is the median (the lower one of an even number)."""
    ordered = sorted(runs, key=lambda r: r["summary"]["duration_s"])
    return ordered[(len(ordered) - 1) // 2]


def _print_history_scaling(
    results: list[dict], engines: list[str], startup_cpu: dict[str, float]
) -> None:
    """For a fleet run over several lengths of history, each against the next shorter: how
    many times the pipeline's time (median runs) and the CPU seconds it took (the process's
    start-up's taken off, as the pipeline's time leaves it out), against how many times
    the days."""
    for units in sorted({r["units"] for r in results}):
        same = sorted((r for r in results if r["units"] == units), key=lambda r: r["days"])
        for base, longer in itertools.pairwise(same):
            for e in engines:
                wall = longer[f"{e}_pipeline_s"] / base[f"{e}_pipeline_s"]
                spent = startup_cpu.get(e, 0.0)
                cpu = (longer[f"{e}_cpu_s"] - spent) / (base[f"{e}_cpu_s"] - spent)
                print(
                    f"  history, {units:,} units, {e}: {longer['days']} days / {base['days']} = "
                    f"{wall:.2f} x the time, {cpu:.2f} x the CPU, for "
                    f"{longer['days'] / base['days']:.0f} x the days"
                )


ENGINES = ("polars", "spark")

if __name__ == "__main__":
    main()
