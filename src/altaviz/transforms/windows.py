"""The few time-window operations Narwhals cannot express well, one native version per backend.

Everything else in the transforms is engine-neutral. These functions take and return Narwhals
frames; inside, they dispatch on the frame's backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import narwhals as nw


def _native_polars(frame: nw.DataFrame[Any]) -> Any:
    if not frame.implementation.is_polars():
        raise NotImplementedError(
            f"time windows are implemented for Polars; got {frame.implementation}"
        )
    return nw.to_native(frame)


def latest_per_key(
    frame: nw.DataFrame[Any], keys: Sequence[str], newest_by: Sequence[str]
) -> nw.DataFrame[Any]:
    """One row per key: the one with the largest ``newest_by`` values (nulls oldest).

    The result is sorted by ``keys``.
    """
    import polars as pl

    native = _native_polars(frame).sort([*keys, *newest_by], nulls_last=False)
    last = pl.lit(False)
    for k in keys:
        last = last | (pl.col(k) != pl.col(k).shift(-1)).fill_null(True)
    return nw.from_native(native.filter(last))


def trailing_trimmed_mean(
    frame: nw.DataFrame[Any],
    columns: Sequence[str],
    count: int,
    min_count: int,
    within: timedelta,
    by: str = "compressor_id",
    order_by: str = "timestamp",
) -> nw.DataFrame[Any]:
    """Add ``_level_{column}``: the mean of the unit's previous ``count`` values with the
    largest and smallest dropped, when all ``count`` previous readings lie within ``within``
    and at least ``min_count`` of them are non-null; otherwise null.

    The frame must be sorted by (by, order_by); it comes back in the same order.
    """
    import polars as pl

    native = _native_polars(frame)
    # Sorted by unit and time: the count-th previous row is the same unit and recent
    # exactly when the whole trailing window is.
    whole = (pl.col(by).shift(count) == pl.col(by)) & (
        pl.col(order_by) - pl.col(order_by).shift(count) <= within
    )
    levels = []
    for c in columns:
        prev = pl.col(c).shift(1)
        n = prev.is_not_null().cast(pl.Int32).rolling_sum(count, min_samples=1)
        total = prev.rolling_sum(count, min_samples=1)
        high = prev.rolling_max(count, min_samples=1)
        low = prev.rolling_min(count, min_samples=1)
        levels.append(
            pl.when(whole & (n >= min_count))
            .then((total - high - low) / (n - 2))
            .alias(f"_level_{c}")
        )
    return nw.from_native(native.with_columns(levels))


def trailing_mean(
    frame: nw.DataFrame[Any],
    columns: Sequence[str],
    windows: Mapping[str, timedelta],
    min_samples: int,
    by: str = "compressor_id",
    order_by: str = "timestamp",
    weights: str | None = None,
) -> nw.DataFrame[Any]:
    """Trailing time-window means per unit: a keyed frame of ``by``, ``order_by`` and
    ``{column}{suffix}`` for each ``suffix: window`` - the mean over the window ending at (and
    including) each row, null with fewer than ``min_samples`` non-null values (or, with
    ``weights``, a total weight below it). With ``weights`` each value counts that many times,
    so a rolling mean of hourly means is the mean of the underlying readings.

    Rows need only be time-ordered within each unit (units may interleave); the result comes
    back grouped by unit, in time order. Join it back on (by, order_by) for other columns.
    """
    import polars as pl

    native = _native_polars(frame)
    if weights is None:
        values = {c: pl.col(c) for c in columns}
        counts = {c: pl.col(c).is_not_null().cast(pl.Int64) for c in columns}
    else:
        values = {c: (pl.col(c) * pl.col(weights)).fill_null(0) for c in columns}
        counts = {
            c: pl.when(pl.col(c).is_not_null()).then(pl.col(weights)).otherwise(0) for c in columns
        }
    prepared = native.select(
        by,
        order_by,
        *(values[c].alias(f"_v_{c}") for c in columns),
        *(counts[c].alias(f"_n_{c}") for c in columns),
    )
    result = None
    for suffix, window in windows.items():
        size = f"{int(window.total_seconds())}s"
        sums = prepared.rolling(index_column=order_by, period=size, group_by=by).agg(
            *(pl.col(f"_v_{c}").sum() for c in columns),
            *(pl.col(f"_n_{c}").sum() for c in columns),
        )
        means = sums.select(
            by,
            order_by,
            *(
                pl.when(pl.col(f"_n_{c}") >= min_samples)
                .then(pl.col(f"_v_{c}") / pl.col(f"_n_{c}"))
                .alias(f"{c}{suffix}")
                for c in columns
            ),
        )
        # Every pass returns the same rows in the same order: add the columns side by side.
        result = means if result is None else result.hstack(means.drop(by, order_by))
    return nw.from_native(result)
