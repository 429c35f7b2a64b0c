"""Starting a local Spark session: the JVM's console goes to Spark's log, not the terminal;
a JVM that cannot start is one line naming the cause."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyspark", reason="the Spark engine is an optional extra: make test has it")

START = (
    "from altaviz.engines.spark_session import spark_session\n"
    "print(spark_session().range(3).count())\n"
)


def _start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A fresh process starting a session, its log in ``tmp_path``."""
    log = tmp_path / "spark.log"
    return subprocess.run(
        [sys.executable, "-c", START],
        env={**os.environ, "ALTAVIZ_SPARK_LOG": str(log), **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_session_starts_without_writing_to_the_terminal(tmp_path):
    done = _start(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "3\n"
    assert done.stderr == ""
    # The JVM's start-up lines (log4j's profile, Ivy's report) are in the log instead.
    assert "log4j" in (tmp_path / "spark.log").read_text()


def test_a_jvm_that_cannot_start_is_one_line_naming_its_cause(tmp_path):
    (tmp_path / "fleet" / "telemetry").mkdir(parents=True)
    cmd = [sys.executable, "-m", "altaviz", "pipeline", "--engine", "spark", "--skip-db"]
    cmd += ["--source", str(tmp_path / "fleet"), "--lakehouse", str(tmp_path / "lake")]
    env = {**os.environ, "ALTAVIZ_SPARK_LOG": str(tmp_path / "spark.log")}
    done = subprocess.run(
        cmd,
        env={**env, "JAVA_HOME": str(tmp_path / "no-java")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 3  # a service the command needs is unavailable
    [line] = done.stderr.strip().splitlines()
    assert "cannot start Spark" in line
    assert "no-java/bin/java: No such file or directory" in line
    assert str(tmp_path / "spark.log") in line
