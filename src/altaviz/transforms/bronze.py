"""Bronze: validate raw telemetry records; split them into accepted rows and dead letters.

A record is rejected, with the first reason that applies, when a value could not be read as
its type, a key is missing, the compressor ID is malformed or not in the registered fleet, or
its timestamp is absurd (before ``earliest_timestamp``) or lies in the future (more than
``future_tolerance_minutes`` after the record arrived).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import narwhals as nw

from altaviz.config.schema import CleaningRules
from altaviz.core.frames import Frame

REASON = "reason"


def compressor_id_pattern(prefix: str, min_digits: int) -> str:
    """Regex of a valid fleet ID.

    >>> compressor_id_pattern("COMP-", 4)
    '^COMP-[0-9]{4,}$'
    """
    return f"^{prefix}[0-9]{{{min_digits},}}$"


def rejection_reasons(
    records: Frame,
    fleet: Collection[str],
    rules: CleaningRules,
    id_pattern: str,
    arrived_fallback: datetime,
) -> Frame:
    """``records`` with a ``reason`` column: null for a valid record, else why it is rejected.

    ``records`` carries the raw telemetry columns and ``type_error`` (a reason found while
    reading, or null). ``fleet`` holds the registered compressor IDs. ``arrived_fallback`` is
    the moment of ingestion: no reading may be stamped later than it (beyond the tolerance),
    and it stands in for a missing ``received_at``.
    """
    # A fleet is thousands of IDs: a set lookup per record, with no pass over the records
    # of their own to find their IDs first (on Spark a job over every file). The pattern is
    # matched only against IDs outside the fleet's well-formed ones: a regex per record
    # cost Spark more than the rest of the checks together.
    pattern = re.compile(id_pattern)
    cleared = sorted(i for i in fleet if pattern.search(i))
    registered = nw.col("compressor_id").is_in(sorted(fleet)) if fleet else nw.lit(False)
    well_formed = nw.col("compressor_id").str.contains(id_pattern)
    if cleared:
        well_formed = nw.col("compressor_id").is_in(cleared) | well_formed
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
        (~well_formed, nw.lit(f"malformed compressor_id (expected {id_pattern})")),
        (~registered, nw.lit("unknown compressor_id: not in the fleet")),
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
    return records.with_columns(reason.otherwise(nw.lit(None)).alias(REASON))
