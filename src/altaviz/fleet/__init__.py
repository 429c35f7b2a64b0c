"""The fleet simulator: layout, failure modes, ground truth, telemetry with realistic dirt."""

from altaviz.fleet.output import OutputError
from altaviz.fleet.simulator import (
    SimulationError,
    SimulationRequest,
    SimulationSummary,
    continue_simulation,
    simulate,
)

__all__ = [
    "OutputError",
    "SimulationError",
    "SimulationRequest",
    "SimulationSummary",
    "continue_simulation",
    "simulate",
]
