"""Which notifications are due, on hand-made worklists: the digest, flapping, matching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from altaviz.config.schema.notifications import NotificationsConfig
from altaviz.notify.plan import due_notifications

T0 = datetime(2026, 3, 1, 6, tzinfo=UTC)


def worklist(*cases: tuple[str, str, str, datetime, str]) -> pl.DataFrame:
    rows = [
        {
            "case_id": case_id,
            "compressor_id": unit,
            "station_id": "PERM-001",
            "basin": "Permian Basin",
            "state": state,
            "severity": severity,
            "opened_at": opened,
            "alerts_open": 1,
            "alert_types": "threshold",
            "suspected_failure_mode": None,
            "time_to_failure_hours": None,
        }
        for case_id, unit, severity, opened, state in cases
    ]
    return pl.DataFrame(rows)


def config(**more) -> NotificationsConfig:
    route = {
        "name": "all",
        "escalation": [{"after_minutes": 0, "channel": "email", "to": "a@example.com"}],
    }
    return NotificationsConfig.model_validate({"version": 1, "routes": [route], **more})


def test_a_daily_digest_lists_the_warnings_once_a_day():
    cases = worklist(
        ("A", "C1", "warning", T0, "open"),
        ("B", "C2", "warning", T0, "acknowledged"),
        ("C", "C3", "critical", T0, "open"),
    )
    rules = config(digest={"hour_utc": 7, "channel": "email", "to": "team@example.com"})
    before = due_notifications(cases, rules, T0 + timedelta(minutes=30), set())
    assert [d.route for d in before] == ["all", "all"]  # A and C; no digest before 07:00
    after = due_notifications(cases, rules, T0 + timedelta(hours=2), {"A/all/0", "C/all/0"})
    (digest,) = after
    assert digest.notification_id == "digest/2026-03-01" and digest.case_ids == ("A", "B")
    assert (
        due_notifications(
            cases, rules, T0 + timedelta(hours=3), {"A/all/0", "C/all/0", digest.notification_id}
        )
        == []
    )


def test_a_flapping_unit_is_not_notified_past_its_daily_allowance():
    cases = worklist(
        *((f"K{i}", "C1", "warning", T0 + timedelta(hours=i), "open") for i in range(5))
    )
    due = due_notifications(
        cases, config(max_cases_per_unit_per_day=3), T0 + timedelta(hours=6), set()
    )
    assert sorted(d.case_ids[0] for d in due) == ["K0", "K1", "K2"]


def test_a_route_takes_only_the_cases_it_matches():
    cases = worklist(("A", "C1", "warning", T0, "open"), ("C", "C3", "critical", T0, "open"))
    rules = config()
    only = rules.model_copy(
        update={
            "routes": (
                rules.routes[0].model_copy(
                    update={
                        "match": rules.routes[0].match.model_copy(
                            update={"severity": ("critical",)}
                        )
                    }
                ),
            )
        }
    )
    assert [d.case_ids for d in due_notifications(cases, only, T0, set())] == [("C",)]
