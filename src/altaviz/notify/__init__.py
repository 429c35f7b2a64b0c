"""Notifications about cases: routes, escalation, digests, maintenance windows, channels."""
