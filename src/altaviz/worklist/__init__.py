"""The worklist: cases as people see them, and what people do to them (triage)."""

from altaviz.worklist.triage import Actor, Role, triage
from altaviz.worklist.view import case_detail, list_cases

__all__ = ["Actor", "Role", "case_detail", "list_cases", "triage"]
