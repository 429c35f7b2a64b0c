"""Score the offline diagnostician against the simulator's truth.

    uv run python benchmarks/diagnosis.py                  # 4,700 units x 10 days, seed 2026
    uv run python benchmarks/diagnosis.py --seed 42 --healthy 500

Simulates a fleet and runs the data pipeline (`--skip-ml`), then diagnoses every unit that is
in warning severity or worse at the end of the data (by the truth) and a sample of units that
never degraded, and prints how many got the right failure mode, and the confusions.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import polars as pl

from _child import ALTAVIZ, simulate_fleet
from altaviz.agent.data import LakehouseData
from altaviz.agent.offline import diagnose_offline
from altaviz.config import load_config
from altaviz.engines import get_engine
from altaviz.fleet.truth import severity_at
from altaviz.lake.location import lake_location
from altaviz.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--compressors", type=int, default=4700)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--healthy", type=int, default=200, help="healthy units to diagnose")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="altaviz-diagnosis-") as tmp:
        fleet, lake = Path(tmp) / "fleet", Path(tmp) / "lake"
        simulate_fleet(fleet, args.compressors, args.days, args.seed)
        subprocess.run(
            [*ALTAVIZ, "pipeline", "--source", str(fleet), "--lakehouse", str(lake), "--skip-ml"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        score(fleet, lake, args.healthy)


def score(fleet: Path, lake: Path, healthy_sample: int) -> None:
    cfg = load_config()
    engine = get_engine("polars", lake_location(cfg.lakehouse, Settings(_env_file=None), lake))
    data = LakehouseData(engine, cfg)
    failures = pl.read_parquet(fleet / "truth" / "failures.parquet")
    hours = pl.read_delta(
        str(lake / "lh_gold_curated" / "Tables" / "hourly_aggregates"), columns=["hour"]
    )
    end = hours["hour"].max()
    severe = severity_at(failures, end + timedelta(hours=1)).filter(
        pl.col("severity").is_in(["warning", "critical", "failed"])
    )
    sick = failures.join(severe.select("compressor_id"), on="compressor_id").filter(
        (pl.col("onset_time") <= end) & (pl.col("failure_time") > end)
    )
    right: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    confused: collections.Counter[tuple[str, str | None]] = collections.Counter()
    for unit in sick.iter_rows(named=True):
        report = diagnose_offline(unit["compressor_id"], data, cfg)
        total[unit["failure_mode"]] += 1
        if report.failure_mode == unit["failure_mode"]:
            right[unit["failure_mode"]] += 1
        else:
            confused[(unit["failure_mode"], report.failure_mode)] += 1
    print(
        f"failing units (warning or worse) named right: {sum(right.values())} of "
        f"{sum(total.values())} ({sum(right.values()) / max(sum(total.values()), 1):.1%})"
    )
    for mode in sorted(total):
        print(f"  {mode:20s} {right[mode]:4d} of {total[mode]:4d}")
    print(f"confusions (truth, diagnosis): {confused.most_common(6)}")
    units = pl.read_parquet(fleet / "compressor_metadata.parquet").select("compressor_id")
    healthy = units.join(failures.select("compressor_id"), on="compressor_id", how="anti")
    named = collections.Counter(
        diagnose_offline(unit, data, cfg).failure_mode
        for unit in healthy["compressor_id"].head(healthy_sample)
    )
    print(f"healthy units diagnosed: {dict(named)}")


if __name__ == "__main__":
    main()
