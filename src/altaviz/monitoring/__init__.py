"""Pipeline observability: one record per run, and the sinks it goes to."""

from altaviz.monitoring.monitor import PipelineMonitor
from altaviz.monitoring.record import RunRecord

__all__ = ["PipelineMonitor", "RunRecord"]
