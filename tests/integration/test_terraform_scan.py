"""Static security scan of infrastructure/terraform with checkov (run in its own environment
through uv, so its many dependencies stay out of ours). Every failed check fails the suite;
deliberate exceptions are skipped in the Terraform itself, each with its reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infrastructure" / "terraform"
CHECKOV = "checkov==3.3.30"


def scan(folder: Path) -> dict[str, Any]:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to run checkov"
    result = subprocess.run(
        [
            uv,
            "tool",
            "run",
            "--from",
            CHECKOV,
            "checkov",
            "--directory",
            str(folder),
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]  # 1: failed checks
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def test_checkov_finds_no_failed_check_and_every_skip_has_a_reason(tmp_path):
    report = scan(TERRAFORM)
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] >= 30  # the modules' resources are scanned too
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    skipped = report["results"]["skipped_checks"]
    assert skipped  # the deliberate exceptions are visible, not silently absent
    for check in skipped:
        assert len(check["check_result"].get("suppress_comment") or "") > 20, check["check_id"]


def test_checkov_fails_a_weakened_configuration(tmp_path):
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform*"))
    storage = copy / "storage.tf"
    storage.write_text(
        storage.read_text()
        .replace('min_tls_version                   = "TLS1_2"', 'min_tls_version = "TLS1_0"')
        .replace(
            "allow_nested_items_to_be_public   = false", "allow_nested_items_to_be_public = true"
        )
    )
    failed = {c["check_id"] for c in scan(copy)["results"]["failed_checks"]}
    assert {"CKV_AZURE_44", "CKV_AZURE_190"} <= failed
