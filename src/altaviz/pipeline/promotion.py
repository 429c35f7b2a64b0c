"""Silver and gold in one pass, date by date: every event date with new bronze rows is
cleaned again, and every date whose silver changed (or is still pending) and passed quality
is promoted to gold, handing each day's silver to gold in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import narwhals as nw

from altaviz.core.frames import Frame, done, height, values
from altaviz.lake import catalog as lake
from altaviz.pipeline.context import RunContext
from altaviz.pipeline.gold import gold_day
from altaviz.pipeline.silver import silver_day
from altaviz.pipeline.state import read_state, save_state
from altaviz.pipeline.write_behind import WriteBehind
from altaviz.transforms.quality import QualityReport


@dataclass
class Promotion:
    """What one pass of silver and gold did."""

    silver_dates: list[date] = field(default_factory=list)
    reports: list[QualityReport] = field(default_factory=list)
    gold_dates: list[date] = field(default_factory=list)
    blocked: list[date] = field(default_factory=list)  # held back by a critical check
    alerts_opened: int = 0
    alerts_resolved: int = 0


def promote(run: RunContext) -> Promotion:
    """Rebuild silver for every event date with new bronze rows; promote to gold every date
    whose silver changed, or that gold still owes, and the day after each rebuilt one (its
    windows look back into it)."""
    state = read_state(run.engine)
    consumed = state["silver"].version if "silver" in state else None
    current = run.engine.version(lake.SENSOR_READINGS)
    rebuild: list[date] = []
    if current is not None and current != consumed:
        added = run.engine.read_added(lake.SENSOR_READINGS, consumed)
        rebuild = sorted(
            values(added.select(nw.col("timestamp").dt.date().alias("d")).unique(), "d")
        )
    known = run.engine.partition_values(lake.SENSOR_CLEANED) | set(rebuild)
    follow = {d + timedelta(days=1) for d in rebuild} & known
    owed = state["gold"].pending if "gold" in state else set()
    wanted = owed | set(rebuild) | follow
    result = Promotion(silver_dates=rebuild)
    if not rebuild and not wanted:
        return result
    bounds = {
        s: tuple(lim.bounds) for s, lim in run.config.thresholds.sensors.items() if lim.bounds
    }
    units = done(
        run.engine.read(lake.COMPRESSOR_METADATA).select(
            "compressor_id", "model", "station_id", "region", "basin"
        )
    )
    registered = height(units)
    held_before = _held_back(run, sorted(wanted - set(rebuild)))
    blocked: set[date] = set()
    silver_of: dict[date, Frame] = {}
    hourly_of: dict[date, Frame] = {}
    with WriteBehind() as writer:
        days = sorted(set(rebuild) | wanted)
        for n, day in enumerate(days, start=1):
            run.say(f"silver, quality, gold and alerts: {day} ({n} of {len(days)})")
            held = day in held_before
            if day in rebuild:
                with run.stage("silver"):
                    report, silver_of[day] = silver_day(run, writer, day, bounds, registered)
                result.reports.append(report)
                held = not report.passed and not run.request.skip_quality
            if day in wanted:
                if held:
                    blocked.add(day)
                else:
                    with run.stage("gold"):
                        o, r, hourly_of = gold_day(run, writer, day, units, hourly_of, silver_of)
                    if not run.engine.carries_frames:
                        hourly_of = {}  # the next day reads them back (Engine.carries_frames)
                        writer.drain()
                    result.gold_dates.append(day)
                    result.alerts_opened += o
                    result.alerts_resolved += r
            for old in [d for d in silver_of if d < day]:
                del silver_of[old]  # only today and yesterday's tail are ever needed
    save_state(run.engine, "gold", None, blocked)
    save_state(run.engine, "silver", current, set())
    run.engine.release()
    result.blocked = sorted(blocked)
    return result


def _held_back(run: RunContext, days: list[date]) -> set[date]:
    """Of ``days`` (not rebuilt now), those whose stored quality report has a critical check."""
    if run.request.skip_quality or not days:
        return set()
    critical = run.engine.read(
        lake.QUALITY_METRICS, (nw.col("severity") == "critical") & nw.col("date").is_in(days)
    )
    return set(values(critical, "date"))
