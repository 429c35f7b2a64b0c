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


def dates_between(first: date, last: date) -> list[date]:
    """Every date from ``first`` to ``last``, both included.

    >>> [d.day for d in dates_between(date(2026, 3, 30), date(2026, 4, 1))]
    [30, 31, 1]
    """
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def days_in(window: timedelta) -> int:
    """Whole days a look-back window reaches into.

    >>> days_in(timedelta(hours=25))
    2
    """
    return -(-window // timedelta(days=1))
