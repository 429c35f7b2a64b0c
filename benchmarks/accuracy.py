"""Score alerts and models against the simulator's truth on a fleet of a given seed, and time
the models' scoring.

    uv run python benchmarks/accuracy.py                      # 4,700 units x 10 days, seed 2026
    uv run python benchmarks/accuracy.py --seed 11 --days 5 --report /tmp/report
    uv run python benchmarks/accuracy.py --seed 42 --start 2026-11-23T06:50Z   # data from dawn

Simulates a fleet, runs the whole pipeline (models included) on an empty lakehouse with a
fresh MLflow store, then prints `altaviz evaluate` and the time `altaviz predict` takes to
score the whole fleet for the last day with all four models (6 scoring passes), as a process
and inside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from _child import ALTAVIZ, lake_env, simulate_fleet


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--compressors", type=int, default=4700)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--start", default="2026-06-01T00:00Z", help="the data's first reading (UTC)"
    )
    parser.add_argument("--report", type=Path, help="also write the Markdown report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="altaviz-accuracy-") as tmp:
        fleet, lake = Path(tmp) / "fleet", Path(tmp) / "lake"
        env = lake_env(tmp)
        simulate_fleet(fleet, args.compressors, args.days, args.seed, args.start)
        pipeline = subprocess.run(
            [*ALTAVIZ, "pipeline", "--source", str(fleet), "--lakehouse", str(lake), "--json"],
            check=False,
            capture_output=True,
            text=True,
            env=env,
        )
        summary = json.loads(pipeline.stdout)
        durations = ", ".join(f"{k} {v:.1f} s" for k, v in summary["durations"].items())
        print(f"pipeline: {summary['duration_s']:.1f} s ({durations})")
        print(f"models: {json.dumps(summary['ml'])}")

        began = time.perf_counter()
        predict = subprocess.run(
            [*ALTAVIZ, "predict", "--lakehouse", str(lake), "--json"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        wall = time.perf_counter() - began
        scored = json.loads(predict.stdout)
        print(
            f"altaviz predict {scored['date']}: {scored['scoring_s']:.1f} s scoring, "
            f"{wall:.1f} s as a process (imports included), "
            f"{scored['units_scored']:,} units scored at the last hour, "
            f"{scored['units_at_risk']:,} at risk"
        )
        command = [*ALTAVIZ, "evaluate", "--source", str(fleet), "--lakehouse", str(lake)]
        if args.report:
            command += ["--report", str(args.report)]
        subprocess.run(command, check=True, env=env)
        result = subprocess.run(
            [*command, "--json"], check=True, capture_output=True, text=True, env=env
        )
        scored = json.loads(result.stdout)
        print(json.dumps(scored["by_source"], indent=1))
        print("worklist:", json.dumps(scored["worklist"], indent=1))
        if "emissions" in scored:  # OOOOb flags, methane and operating modes against the truth
            print("emissions:", json.dumps(scored["emissions"], indent=1))


if __name__ == "__main__":
    main()
