"""Reads more than one stage needs, phrased once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import narwhals as nw

from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.transforms.frames import Frame, done


def carried_alerts(engine: Engine, since: datetime, types: Sequence[str]) -> Frame:
    """Alerts of the given types opened before ``since`` and not resolved by then (suppressed
    ones excepted): the alerts an evaluation starting at ``since`` continues."""
    return done(
        engine.read(
            lake.ALERT_HISTORY,
            (nw.col("opened_at") < since)
            & (nw.col("resolved_at").is_null() | (nw.col("resolved_at") >= since))
            & (nw.col("state") != "suppressed")
            & nw.col("alert_type").is_in(list(types)),
        )
    )
