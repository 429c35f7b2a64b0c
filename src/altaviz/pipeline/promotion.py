"""Silver and gold in one pass, in batches of dates: every event date with new bronze rows is
cleaned again, and every date whose silver changed (or is still pending) and passed quality
is promoted to gold. The engine chooses the batch's size (``Engine.batch_days``): the
embedded engine takes one date at a time, handing each day's silver to gold in memory, and
Spark takes many, computing each stage for all of them in a few set-based jobs and one
commit per table."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import narwhals as nw

from altaviz.core.frames import Frame, height, scanned, values
from altaviz.lake import catalog as lake
from altaviz.pipeline.context import RunContext
from altaviz.pipeline.gold import gold_after_cleaning, gold_days, gold_of_pass_holds
from altaviz.pipeline.silver import SilverBatch, silver_days
from altaviz.pipeline.state import read_state, save_state
from altaviz.pipeline.write_behind import WriteBehind
from altaviz.transforms.quality import QualityReport

log = logging.getLogger("altaviz.pipeline")


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
        rebuild = sorted(run.engine.added_dates(lake.SENSOR_READINGS, consumed))
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
    units = scanned(
        run.engine.read(lake.COMPRESSOR_METADATA).select(
            "compressor_id", "model", "station_id", "region", "basin"
        )
    )
    registered = height(run.engine.read_local(lake.COMPRESSOR_METADATA))
    held_before = _held_back(run, sorted(wanted - set(rebuild)))
    blocked: set[date] = set()
    silver_of: dict[date, SilverBatch] = {}
    hourly_of: dict[date, Frame] = {}
    days = sorted(set(rebuild) | wanted)
    batches = list(date_batches(days, run.engine.batch_days))
    with WriteBehind() as writer:
        for n, batch in enumerate(batches, start=1):
            span = f"{batch[0]}" if len(batch) == 1 else f"{batch[0]} to {batch[-1]}"
            run.say(f"silver, quality, gold and alerts: {span} ({n} of {len(batches)})")
            held = {d for d in batch if d in held_before}
            cleaned = [d for d in batch if d in rebuild]
            # A batch cleaned whole computes its gold in the same pass (kept if it holds).
            in_pass = cleaned == batch and len(list(consecutive(batch))) == 1
            computed: dict[str, Frame] = {}
            if cleaned:
                with run.stage("silver"):
                    with_gold = (
                        gold_after_cleaning(run, batch, units, hourly_of, silver_of)
                        if in_pass
                        else None
                    )
                    reports, silver, computed = silver_days(
                        run, writer, cleaned, bounds, registered, also=with_gold
                    )
                result.reports += reports
                if not run.request.skip_quality:
                    held |= {r.day for r in reports if not r.passed}
                silver_of.update(dict.fromkeys(cleaned, silver))
            promoted = [d for d in batch if d in wanted and d not in held]
            blocked |= {d for d in batch if d in wanted and d in held}
            keep = in_pass and promoted == batch and gold_of_pass_holds(computed, silver.hours)
            if in_pass and promoted and not keep:
                log.info(
                    "gold of %s computed again from its silver (the pass's did not hold)", span
                )
            for run_of_days in consecutive(promoted):
                with run.stage("gold"):
                    o, r, hourly_of = gold_days(
                        run,
                        writer,
                        run_of_days,
                        units,
                        hourly_of,
                        silver_of,
                        computed=computed if keep else None,
                    )
                if not run.engine.carries_frames:
                    writer.drain()  # the next batch reads these days back
                result.gold_dates += run_of_days
                result.alerts_opened += o
                result.alerts_resolved += r
            for old in [d for d in silver_of if d < batch[-1]]:
                del silver_of[old]  # only the last day's tail is needed next
    save_state(run.engine, "gold", None, blocked)
    save_state(run.engine, "silver", current, set())
    run.engine.release()
    result.blocked = sorted(blocked)
    return result


def date_batches(days: list[date], size: int | None) -> Iterator[list[date]]:
    """``days`` (sorted) in batches of at most ``size`` days (None: all at once).

    >>> [len(b) for b in date_batches([date(2026, 3, d) for d in range(1, 6)], 2)]
    [2, 2, 1]
    """
    step = size or max(len(days), 1)
    for i in range(0, len(days), step):
        yield days[i : i + step]


def consecutive(days: list[date]) -> Iterator[list[date]]:
    """``days`` (sorted) as runs of consecutive dates.

    >>> [len(r) for r in consecutive([date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 5)])]
    [2, 1]
    """
    run: list[date] = []
    for day in days:
        if run and day != run[-1] + timedelta(days=1):
            yield run
            run = []
        run.append(day)
    if run:
        yield run


def _held_back(run: RunContext, days: list[date]) -> set[date]:
    """Of ``days`` (not rebuilt now), those whose stored quality report has a critical check."""
    if run.request.skip_quality or not days:
        return set()
    critical = run.engine.read_local(
        lake.QUALITY_METRICS, (nw.col("severity") == "critical") & nw.col("date").is_in(days)
    )
    return set(values(critical, "date"))
