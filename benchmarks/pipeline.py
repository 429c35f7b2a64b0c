"""Benchmark `altaviz pipeline`: wall time, rows/s and peak memory per stage.

    uv run python benchmarks/pipeline.py               # 4,700 units x 1 day and x 10 days
    uv run python benchmarks/pipeline.py --days 1
    uv run python benchmarks/pipeline.py --with-ml     # the models' stage too

By default the data pipeline alone (bronze -> silver + quality -> gold -> alerts, `--skip-ml`);
`benchmarks/accuracy.py` times the models.

Each workload is simulated once (not timed), then the pipeline runs in a fresh child process
on an empty lakehouse; the child reports its stage durations, the parent its peak RSS.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from _child import measure, simulate_fleet

EARLIER_ROWS_PER_S = 5_450  # the spec's earlier Spark implementation, end to end


def run_pipeline(source: str, lakehouse: str, with_ml: bool, *options: str) -> dict:
    """`altaviz pipeline --json` in a fresh child process, with extra ``options``."""
    cmd = [sys.executable, "-m", "altaviz", "pipeline", "--json", *options]
    cmd += ["--source", source, "--lakehouse", lakehouse]
    if not with_ml:
        cmd.append("--skip-ml")
    return measure(cmd, ok_codes=(0, 1))  # 1: a quality check held a date back


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--compressors", type=int, default=4700)
    parser.add_argument("--days", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--with-ml", action="store_true", help="run the ML stage too")
    args = parser.parse_args()
    print(f"altaviz pipeline (polars), {args.compressors:,} compressors, {os.cpu_count()} cores")
    for days in args.days:
        with tempfile.TemporaryDirectory(prefix="altaviz-bench-") as tmp:
            source = os.path.join(tmp, "fleet")
            simulate_fleet(Path(source), args.compressors, days, start="2026-01-01T00:00Z")
            os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlruns/mlflow.db"
            r = run_pipeline(source, os.path.join(tmp, "lake"), args.with_ml)
        s = r["summary"]
        rows = s["rows"]["bronze"]
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in s["durations"].items())
        print(
            f"  {days:>2} day(s): {r['wall_s']:6.2f} s wall (process, imports included), "
            f"{rows:,} readings, {rows / r['wall_s']:,.0f} rows/s "
            f"({rows / r['wall_s'] / EARLIER_ROWS_PER_S:.0f}x the earlier implementation), "
            f"peak {r['peak_mb']:,.0f} MB"
        )
        print(
            f"           in the pipeline {s['duration_s']:.2f} s ({stages}); "
            f"alerts opened {s['alerts']['opened']:,}"
        )


if __name__ == "__main__":
    main()
