"""Event dates as UTC time ranges: every layer processes and partitions by date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def day_bounds(day: date, lead: timedelta = timedelta(0)) -> tuple[datetime, datetime]:
    """``[midnight - lead, next midnight)`` of ``day`` in UTC.

    >>> day_bounds(date(2026, 3, 1), timedelta(hours=1))[0].isoformat()
    '2026-02-28T23:00:00+00:00'
    """
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start - lead, start + timedelta(days=1)
