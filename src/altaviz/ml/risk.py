"""Which units are at risk: the one definition, used by the ML stage, the run summary, the
command line and the API."""

from __future__ import annotations

import narwhals as nw

LEVELS = ("anomaly_level", "drift_level", "rul_level")


def risk_level() -> nw.Expr:
    """A prediction's risk: the highest level any model gives it (0 when none flags it).

    >>> import polars as pl
    >>> frame = nw.from_native(pl.DataFrame({"anomaly_level": [0, None], "drift_level": [1, None],
    ...                                      "rul_level": [None, None]}))
    >>> frame.select(risk_level().alias("risk"))["risk"].to_list()
    [1, 0]
    """
    return nw.max_horizontal(*(nw.col(c).fill_null(0) for c in LEVELS))


def at_risk() -> nw.Expr:
    """Predictions that any model flags (level 1 or more): the one definition of "at risk"."""
    return risk_level() >= 1
