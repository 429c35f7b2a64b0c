"""The batch pipeline: landing files -> bronze -> silver (+ quality) -> gold -> alerts ->
models -> serving database. :func:`run_pipeline` runs it once; one module per stage."""

from altaviz.pipeline.context import PipelineError, PipelineRequest
from altaviz.pipeline.landing import Gate, LandedBatch, land_batch
from altaviz.pipeline.reference import load_reference
from altaviz.pipeline.runner import RunSummary, run_pipeline

__all__ = [
    "Gate",
    "LandedBatch",
    "PipelineError",
    "PipelineRequest",
    "RunSummary",
    "land_batch",
    "load_reference",
    "run_pipeline",
]
