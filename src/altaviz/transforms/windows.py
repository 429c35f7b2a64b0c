"""The few time-window operations Narwhals cannot express well, one native version per backend.

Everything else in the transforms is engine-neutral. These functions take and return Narwhals
frames; inside, they dispatch on the frame's backend.
"""

from __future__ import annotations

from collections.abc import Sequence
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

    The result is sorted by ``keys``, ready for :func:`previous_values`.
    """
    import polars as pl

    native = _native_polars(frame).sort([*keys, *newest_by], nulls_last=False)
    last = pl.lit(False)
    for k in keys:
        last = last | (pl.col(k) != pl.col(k).shift(-1)).fill_null(True)
    return nw.from_native(native.filter(last))


def previous_values(
    frame: nw.DataFrame[Any],
    columns: Sequence[str],
    count: int,
    within: timedelta,
    by: str = "compressor_id",
    order_by: str = "timestamp",
) -> nw.DataFrame[Any]:
    """Add ``_prev{k}_{column}`` (k = 1..count): the unit's k-th previous value of ``column``,
    null when it is older than ``within``. The frame comes back sorted by (by, order_by).
    """
    import polars as pl

    native = _native_polars(frame)
    if not (native[by].is_sorted() and native.select(pl.struct(by, order_by).is_sorted()).item()):
        native = native.sort(by, order_by)
    shifted = []
    for k in range(1, count + 1):
        near = (pl.col(by).shift(k) == pl.col(by)) & (
            pl.col(order_by) - pl.col(order_by).shift(k) <= within
        )
        shifted += [pl.when(near).then(pl.col(c).shift(k)).alias(f"_prev{k}_{c}") for c in columns]
    return nw.from_native(native.with_columns(shifted))


def trailing_mean(
    frame: nw.DataFrame[Any],
    columns: Sequence[str],
    window: timedelta,
    min_samples: int,
    suffix: str,
    by: str = "compressor_id",
    order_by: str = "timestamp",
    weights: str | None = None,
) -> nw.DataFrame[Any]:
    """Add ``{column}{suffix}``: the mean over the unit's trailing time ``window`` (inclusive of
    the current row), null with fewer than ``min_samples`` non-null values (or, with
    ``weights``, a total weight below it). With ``weights`` each value counts that many times,
    so a rolling mean of hourly means is the mean of the underlying readings.
    """
    import polars as pl

    native = _native_polars(frame).sort(by, order_by)
    size = f"{int(window.total_seconds())}s"
    if weights is None:
        # One grouped rolling pass for all columns; rows come back in the frame's order.
        rolled = native.rolling(index_column=order_by, period=size, group_by=by).agg(
            *(pl.col(c).mean().alias(f"{c}{suffix}") for c in columns),
            *(pl.col(c).count().alias(f"_n_{c}") for c in columns),
        )
        return nw.from_native(
            native.with_columns(
                pl.when(rolled[f"_n_{c}"] >= min_samples)
                .then(rolled[f"{c}{suffix}"])
                .alias(f"{c}{suffix}")
                for c in columns
            )
        )
    exprs = []
    for c in columns:
        if weights is None:
            value, weight = pl.col(c), pl.col(c).is_not_null().cast(pl.Int64)
        else:
            value = pl.col(c) * pl.col(weights)
            weight = pl.when(pl.col(c).is_not_null()).then(pl.col(weights)).otherwise(0)
        total = value.fill_null(0).rolling_sum_by(order_by, size).over(by)
        n = weight.rolling_sum_by(order_by, size).over(by)
        exprs.append(pl.when(n >= min_samples).then(total / n).alias(f"{c}{suffix}"))
    return nw.from_native(native.with_columns(exprs))
