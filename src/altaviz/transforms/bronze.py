"""Bronze: validate raw telemetry records; split them into accepted rows and dead letters.

A record is rejected, with the first reason that applies, when a value could not be read as
its type, a key is missing, the compressor ID is malformed or not in the registered fleet, or
its timestamp is absurd (before ``earliest_timestamp``) or lies in the future (more than
``future_tolerance_minutes`` after the record arrived).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import narwhals as nw

from altaviz.config.schema import CleaningRules
from altaviz.core.frames import Frame, height

REASON = "reason"


def compressor_id_pattern(prefix: str, min_digits: int) -> str:
    """Regex of a valid fleet ID.

    >>> compressor_id_pattern("COMP-", 4)
    '^COMP-[0-9]{4,}$'
    """
    return f"^{prefix}[0-9]{{{min_digits},}}$"


def rejection_reasons(
    records: Frame,
    known_ids: Frame,
    rules: CleaningRules,
    id_pattern: str,
    arrived_fallback: datetime,
) -> Frame:
    """``records`` with a ``reason`` column: null for a valid record, else why it is rejected.

    ``records`` carries the raw telemetry columns and ``type_error`` (a reason found while
    reading, or null). ``arrived_fallback`` is the moment of ingestion: no reading may be
    stamped later than it (beyond the tolerance), and it stands in for a missing
    ``received_at``.
    """
    # IDs are judged once each (a fleet has thousands, a day has millions of readings).
    registered = known_ids.select(nw.col("compressor_id"), nw.lit(True).alias("_registered"))
    ids = (
        records.select("compressor_id")
        .unique()
        .filter(~nw.col("compressor_id").is_null())
        .join(registered, on="compressor_id", how="left")
        .with_columns(nw.col("compressor_id").str.contains(id_pattern).alias("_well_formed"))
    )
    bad_ids = ids.filter(nw.col("_registered").is_null() | ~nw.col("_well_formed"))
    if height(bad_ids):
        flagged = nw.col("_bad").fill_null(False)
        with_fleet = (
            records.join(
                bad_ids.with_columns(nw.lit(True).alias("_bad")), on="compressor_id", how="left"
            )
            .with_columns(
                nw.when(flagged)
                .then(nw.col("_registered"))
                .otherwise(nw.lit(True))
                .alias("_registered"),
                nw.when(flagged)
                .then(nw.col("_well_formed"))
                .otherwise(nw.lit(True))
                .alias("_well_formed"),
            )
            .drop("_bad")
        )
    else:  # the usual case: every ID in the batch is a known, well-formed one
        with_fleet = records.with_columns(
            nw.lit(True).alias("_registered"), nw.lit(True).alias("_well_formed")
        )
    arrived = (
        nw.when(nw.col("received_at").is_null())
        .then(nw.lit(arrived_fallback))
        .otherwise(nw.col("received_at"))
    )
    tolerance = timedelta(minutes=rules.future_tolerance_minutes)
    future = arrived + tolerance
    checks: list[tuple[nw.Expr, nw.Expr]] = [
        (~nw.col("type_error").is_null(), nw.col("type_error")),
        (nw.col("compressor_id").is_null(), nw.lit("missing compressor_id")),
        (
            ~nw.col("_well_formed"),
            nw.lit(f"malformed compressor_id (expected {id_pattern})"),
        ),
        (nw.col("_registered").is_null(), nw.lit("unknown compressor_id: not in the fleet")),
        (nw.col("timestamp").is_null(), nw.lit("missing timestamp")),
        (
            nw.col("timestamp") < nw.lit(rules.earliest_timestamp),
            nw.lit(f"timestamp before {rules.earliest_timestamp:%Y-%m-%d}"),
        ),
        (
            nw.col("timestamp") > nw.lit(arrived_fallback + tolerance),
            nw.lit(
                f"timestamp in the future: more than {rules.future_tolerance_minutes:g} min "
                "after it was ingested"
            ),
        ),
        (
            nw.col("timestamp") > future,
            nw.lit(f"timestamp more than {rules.future_tolerance_minutes:g} min after arrival"),
        ),
    ]
    reason: Any = nw.when(checks[0][0]).then(checks[0][1])
    for condition, text in checks[1:]:
        reason = reason.when(condition).then(text)
    return with_fleet.with_columns(reason.otherwise(nw.lit(None)).alias(REASON)).drop(
        "_registered", "_well_formed"
    )
