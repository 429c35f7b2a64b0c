"""Delivering a notification: e-mail over SMTP, a JSON webhook, or a Microsoft Teams card.

A webhook's or Teams' ``to`` names the environment variable holding its URL (URLs carry
secrets); an e-mail goes through ``SMTP_HOST``. A failure is returned, not raised: the
pipeline records it and tries again on its next run.
"""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage

from altaviz.monitoring.sinks import SinkError, post_json
from altaviz.notify.plan import Due
from altaviz.settings import Settings


def deliver(due: Due, settings: Settings) -> str | None:
    """Send ``due``; None when it went out, else why not (one line)."""
    try:
        if due.channel == "email":
            _email(due, settings)
        else:
            url = os.environ.get(due.to, "")
            if not url:
                return f"{due.to} is not set (the {due.channel} URL of route {due.route})"
            post_json(url, _teams_card(due) if due.channel == "teams" else _payload(due))
    except (SinkError, smtplib.SMTPException, OSError) as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def _email(due: Due, settings: Settings) -> None:
    if not settings.smtp_host:
        raise OSError("SMTP_HOST is not set (e-mail routes need an SMTP server)")
    message = EmailMessage()
    message["Subject"] = due.subject
    message["From"] = settings.smtp_from
    message["To"] = due.to
    message["X-Altaviz-Notification"] = due.notification_id
    message.set_content("\n".join(due.lines) + "\n")
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user and settings.smtp_password:
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except TimeoutError as exc:
        raise OSError(f"{settings.smtp_host}:{settings.smtp_port} timed out") from exc


def _payload(due: Due) -> dict[str, object]:
    return {
        "notification_id": due.notification_id,
        "route": due.route,
        "step": due.step,
        "severity": due.severity,
        "case_ids": list(due.case_ids),
        "subject": due.subject,
        "text": "\n".join(due.lines),
    }


def _teams_card(due: Due) -> dict[str, object]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": due.subject, "weight": "Bolder"},
                        *({"type": "TextBlock", "text": line, "wrap": True} for line in due.lines),
                    ],
                },
            }
        ],
    }
