"""Diagnostics: five read-only tools over a unit's data, a DiagnosticReport, and the two
diagnosticians that fill it - a Pydantic AI agent, and a deterministic offline one."""
