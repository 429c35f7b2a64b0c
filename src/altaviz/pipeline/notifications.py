"""The notification stage: what the routes owe about the worklist, sent once each and
recorded in ``notifications`` (a failed one is recorded too, and tried again next run)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import narwhals as nw
import polars as pl

from altaviz.lake import catalog as lake
from altaviz.notify.channels import deliver
from altaviz.notify.plan import due_notifications
from altaviz.pipeline.context import RunContext
from altaviz.settings import Settings

log = logging.getLogger("altaviz.notify")


def notify_stage(run: RunContext, settings: Settings, now: datetime | None = None) -> int:
    """Send what is due at ``now`` (default: the data's clock, the newest reading); returns
    how many went out. Nothing to do until ``notifications.yaml`` has a route or a digest."""
    config = run.config.notifications
    if not config.routes and config.digest is None:
        return 0
    engine = run.engine
    now = now or engine.column_max(lake.SENSOR_CLEANED, "timestamp")
    cases = nw.to_native(engine.read_local(lake.CASES))
    if now is None or not cases.height:
        return 0
    done_before = nw.to_native(
        engine.read_local(lake.NOTIFICATIONS, nw.col("status") == "sent").select("notification_id")
    )
    due = due_notifications(cases, config, now, set(done_before["notification_id"]))
    if not due:
        return 0
    rows = []
    for d in due:
        error = deliver(d, settings)
        if error:
            log.warning("notification %s not sent: %s", d.notification_id, error)
        rows.append(
            {
                "notification_id": d.notification_id,
                "case_id": d.case_ids[0] if len(d.case_ids) == 1 else "digest",
                "route": d.route,
                "step": d.step,
                "channel": d.channel,
                "target": d.to,
                "severity": d.severity,
                "due_at": d.due_at,
                "sent_at": datetime.now(UTC),
                "status": "failed" if error else "sent",
                "error": error,
            }
        )
    frame = pl.DataFrame(rows, schema=lake.NOTIFICATIONS.schema.polars())
    engine.merge(
        lake.NOTIFICATIONS, engine.frame(lake.NOTIFICATIONS, frame.to_dict(as_series=False))
    )
    return sum(r["status"] == "sent" for r in rows)
