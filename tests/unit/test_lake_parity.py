"""The parity check itself must catch what it exists to catch."""

from __future__ import annotations

import polars as pl

from altaviz.lake import catalog as lake
from tests.lake_parity import _rounded_text_same, _table_differences


def _quality(values: list[float | None], details: list[str]) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            "date": [None] * n,
            "check": [f"c{i}" for i in range(n)],
            "value": values,
            "threshold": [None] * n,
            "severity": ["pass"] * n,
            "passed": [True] * n,
            "detail": details,
        }
    )


def test_equal_tables_pass_and_float_noise_is_tolerated():
    a = _quality([1.0, 2.0, None], ["x", "y", "z"])
    b = _quality([1.0 + 1e-12, 2.0, None], ["x", "y", "z"])
    assert _table_differences(lake.QUALITY_METRICS, a, b, 1e-9) == []


def test_a_float_beyond_tolerance_a_text_a_null_or_a_row_is_caught():
    a = _quality([1.0, 2.0, None], ["x", "y", "z"])
    assert _table_differences(
        lake.QUALITY_METRICS, a, _quality([1.0, 2.0 * (1 + 1e-6), None], ["x", "y", "z"]), 1e-9
    )
    assert _table_differences(
        lake.QUALITY_METRICS, a, _quality([1.0, 2.0, None], ["x", "Y", "z"]), 1e-9
    )
    assert _table_differences(
        lake.QUALITY_METRICS, a, _quality([1.0, 2.0, 0.0], ["x", "y", "z"]), 1e-9
    )
    assert _table_differences(lake.QUALITY_METRICS, a, a.head(2), 1e-9) == ["3 rows != 2 rows"]


def test_rounded_numbers_in_messages_may_differ_by_their_last_digit_only():
    assert _rounded_text_same("mean 1013.38 crossed 1022.65", "mean 1013.37 crossed 1022.65")
    assert not _rounded_text_same("mean 1013.38 crossed", "mean 1013.36 crossed")
    assert not _rounded_text_same("10 of 10 units", "11 of 10 units")
    assert not _rounded_text_same("warning: 1.5", "critical: 1.5")
