"""Robust trends of hourly series: the shared core of the drift and remaining-useful-life models.

For each unit, sensor and evaluation time, a straight line is fitted to the unit's hourly
values over the trailing window by a Huber M-estimator (least squares, then one reweighting
in which hours far from the line - beyond 1.345 robust sigmas - count less), so a single bad
hour does not make or break a trend.

The whole fleet is fitted at once: the hourly rows become one (unit x hour x sensor) array,
and each evaluation time is a slice of it, solved with array arithmetic - no loop over units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import narwhals as nw
import numpy as np

HUBER_K = 1.345  # 95 % efficiency under Gaussian noise
MAD_TO_SIGMA = 1.4826
HOUR = timedelta(hours=1)


def robust_trends(
    hourly: nw.DataFrame[Any],
    series: Mapping[str, str],
    at: Sequence[datetime],
    window: timedelta,
    min_hours: int,
    lags: Mapping[str, float] | None = None,
) -> nw.DataFrame[Any]:
    """Per (compressor_id, sensor, at): ``slope`` (per hour), ``level`` (the line's value at
    hour ``at``, carried forward ``lags[sensor]`` hours for a series that lags the present,
    such as a trailing mean), ``se`` (standard error of the slope) and ``hours`` fitted.

    ``series`` names, per output ``sensor``, the column of ``hourly`` to fit (for example
    ``{"vibration_mms": "vibration_mms_mean"}``); ``hourly`` also holds ``compressor_id`` and
    ``hour`` (whole hours). The window of an evaluation time ``t`` is the hours in
    ``(t - window, t]``; fits with fewer than ``min_hours`` hours are left out.
    """
    sensors = list(series)
    frame = hourly.select("compressor_id", "hour", *series.values())
    if not frame.shape[0] or not at:
        return _empty(hourly)
    ids = frame.get_column("compressor_id")
    units = ids.unique().sort()
    unit_index = (ids.rank("dense").to_numpy() - 1).astype(np.int64)
    hours = frame.get_column("hour")
    first = hours.min()
    offsets = ((hours - first).dt.total_seconds() // 3600).to_numpy().astype(np.int64)
    steps = int(window / HOUR)
    last_at = max(int((t - first) / HOUR) for t in at)
    span = max(int(offsets.max()), last_at) + 1
    # Units x sensors x hours, hours last so every reduction runs over contiguous memory;
    # ``steps`` of padding before the first hour make every window a plain slice.
    grid = np.full((len(units), len(sensors), span + steps), np.nan)
    for k, column in enumerate(series.values()):
        grid[unit_index, k, offsets + steps] = frame.get_column(column).to_numpy().astype(float)

    x = np.arange(-steps + 1, 1, dtype=float)  # hours relative to t
    lag = np.array([(lags or {}).get(sensor, 0.0) for sensor in sensors])
    parts = []
    for i, t in enumerate(at):
        end = int((t - first) / HOUR) + steps + 1
        if end - steps < 0:
            continue  # the whole window lies before the first hour of data
        slope, level, se, n = _huber_fit(x, grid[:, :, end - steps : end])
        level = level + slope * lag[None, :]
        u, k = np.nonzero(n >= min_hours)
        parts.append((u, k, np.full(len(u), i), slope[u, k], level[u, k], se[u, k], n[u, k]))
    if not parts:
        return _empty(hourly)
    u, k, t_index, slope, level, se, n = (np.concatenate(c) for c in zip(*parts, strict=True))
    backend = hourly.implementation
    fits = nw.from_dict(
        {"_u": u, "_k": k, "_t": t_index, "slope": slope, "level": level, "se": se, "hours": n},
        backend=backend,
    )
    names = {
        "_u": (units, "compressor_id"),
        "_k": (nw.new_series("sensor", sensors, nw.String, backend=backend), "sensor"),
        "_t": (nw.new_series("at", list(at), hourly.schema["hour"], backend=backend), "at"),
    }
    for key, (values, name) in names.items():
        lookup = nw.from_dict(
            {key: np.arange(len(values)), name: values.to_native()}, backend=backend
        )
        fits = fits.join(lookup, on=key, how="left")
    return fits.select("compressor_id", "sensor", "at", "slope", "level", "se", "hours")


def _huber_fit(
    x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Huber fit of ``y`` (units x sensors x hours, NaN where missing) on ``x`` (hours):
    slope, intercept at x = 0, slope standard error and the count of hours, per (unit, sensor)."""
    present = np.isfinite(y)
    n = present.sum(axis=-1)
    y0 = np.where(present, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty windows: no fit, by design
        slope, intercept = _weighted_line(x, y0, present.astype(float))
        residual = np.abs(y0 - intercept[..., None] - slope[..., None] * x)
        scale = _median_present(np.where(present, residual, np.inf), n) * MAD_TO_SIGMA
        weight = np.minimum(1.0, HUBER_K * scale[..., None] / residual)
        weight = np.where(np.isfinite(weight), weight, 1.0) * present
        slope, intercept = _weighted_line(x, y0, weight)
        residual = (y0 - intercept[..., None] - slope[..., None] * x) * present
        sw = weight.sum(axis=-1)
        xm = (weight * x).sum(axis=-1) / sw
        sxx = (weight * (x - xm[..., None]) ** 2).sum(axis=-1)
        # Weighted residual variance; the weights act as counts, with n - 2 degrees of freedom.
        variance = (weight * residual**2).sum(axis=-1) / (sw * (n - 2) / n)
        se = np.sqrt(variance / sxx)
    se = np.where(n > 2, se, np.nan)
    return slope, intercept, se, n


def _median_present(values: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Median over the last axis of the first ``n`` values once sorted (missing ones are
    +inf, so they sort last)."""
    ordered = np.sort(values, axis=-1)
    low = np.clip((n - 1) // 2, 0, None)[..., None]
    high = np.clip(n // 2, 0, None)[..., None]
    pick = np.take_along_axis(ordered, low, -1) + np.take_along_axis(ordered, high, -1)
    return np.where(n > 0, pick[..., 0] / 2.0, np.nan)


def _weighted_line(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sw = w.sum(axis=-1)
    xm = (w * x).sum(axis=-1) / sw
    ym = (w * y).sum(axis=-1) / sw
    dx = x - xm[..., None]
    sxx = (w * dx**2).sum(axis=-1)
    slope = np.where(sxx > 0, (w * dx * (y - ym[..., None])).sum(axis=-1) / sxx, np.nan)
    return slope, ym - slope * xm


def _empty(hourly: nw.DataFrame[Any]) -> nw.DataFrame[Any]:
    return nw.from_dict(
        {
            "compressor_id": [],
            "sensor": [],
            "at": [],
            "slope": [],
            "level": [],
            "se": [],
            "hours": [],
        },
        schema={
            "compressor_id": nw.String(),
            "sensor": nw.String(),
            "at": hourly.schema["hour"],
            "slope": nw.Float64(),
            "level": nw.Float64(),
            "se": nw.Float64(),
            "hours": nw.Int64(),
        },
        backend=hourly.implementation,
    )
