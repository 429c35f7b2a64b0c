"""``/diagnose``: one unit's diagnosis."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from altaviz.agent.data import UnknownCompressor
from altaviz.agent.diagnostics import DiagnosisError, diagnose
from altaviz.agent.report import DiagnosticReport
from altaviz.api.deps import ServedDep, unit_id
from altaviz.api.models import DiagnoseRequest

router = APIRouter(tags=["diagnosis"])


@router.post("/diagnose")
def diagnose_unit(request: DiagnoseRequest, served: ServedDep) -> DiagnosticReport:
    """A diagnosis of one unit (the model from DIAGNOSTICS_MODEL, or offline rules)."""
    compressor_id = unit_id(request.compressor_id, served.config)
    try:
        report, _ = diagnose(compressor_id, served.data, served.config, served.settings)
    except UnknownCompressor as exc:
        raise HTTPException(404, str(exc)) from exc
    except DiagnosisError as exc:
        raise HTTPException(502, str(exc)) from exc
    return report
