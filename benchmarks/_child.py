"""Run one command in a fresh child process; measure its wall time and its own peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def measure(cmd: list[str], ok_codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """Run ``cmd`` (which prints JSON on stdout); return its JSON, wall seconds and peak MB."""
    with tempfile.TemporaryFile("w+") as captured:
        began = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=captured)
        _, status, usage = os.wait4(child.pid, 0)  # rusage of this child alone
        wall = time.perf_counter() - began
        summary = _summary(cmd, os.waitstatus_to_exitcode(status), ok_codes, captured)
        return {"summary": summary, "wall_s": wall, "peak_mb": usage.ru_maxrss / 1024}


def measure_tree(cmd: list[str], ok_codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """As :func:`measure`, but the peak memory is that of the child and every process it
    starts (Spark's JVM, its Python workers), sampled from ``/proc`` every 0.2 s; with the
    machine's CPU seconds over the run (``cpu_s``, ``steal_s``: see :func:`machine_cpu`)."""
    with tempfile.TemporaryFile("w+") as captured:
        cpu_at_start = machine_cpu()
        began = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=captured)
        peak = 0
        while child.poll() is None:
            peak = max(peak, _tree_rss(child.pid))
            time.sleep(0.2)
        wall = time.perf_counter() - began
        busy, stolen = (b - a for a, b in zip(cpu_at_start, machine_cpu(), strict=True))
        summary = _summary(cmd, child.returncode, ok_codes, captured)
        return {
            "summary": summary,
            "wall_s": wall,
            "peak_mb": peak / 2**20,
            "cpu_s": busy,
            "steal_s": stolen,
        }


def machine_cpu() -> tuple[float, float]:
    """Seconds this machine's CPUs have been busy since boot, summed over CPUs, and seconds
    the hypervisor took from them (steal) — from ``/proc/stat``. A benchmark that runs alone
    takes the difference over a run as the run's CPU time: unlike wall time, it does not
    move when a shared host is busy."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    ticks = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / ticks, steal / ticks


def _summary(cmd: list[str], code: int, ok_codes: tuple[int, ...], captured: Any) -> Any:
    """The JSON a finished child printed, or exit with what went wrong."""
    if code not in ok_codes:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    captured.seek(0)
    try:
        return json.load(captured)
    except json.JSONDecodeError:
        raise SystemExit(f"no summary from: {' '.join(cmd)}") from None


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants now (0 for those already gone)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0
    for pid in tree:
        try:
            pages = int((Path("/proc") / str(pid) / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += pages * os.sysconf("SC_PAGE_SIZE")
    return total


ALTAVIZ = [sys.executable, "-m", "altaviz"]


def simulate_fleet(
    output: Path, compressors: int, days: int, seed: int = 42, start: str = "2026-06-01T00:00Z"
) -> None:
    """`altaviz simulate` into ``output`` (not timed)."""
    subprocess.run(
        [
            *ALTAVIZ,
            "simulate",
            "--compressors",
            str(compressors),
            "--days",
            str(days),
            "--seed",
            str(seed),
            "--start",
            start,
            "--output",
            str(output),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def lake_env(tmp: str | Path, **extra: str) -> dict[str, str]:
    """The environment for a benchmark's own lakehouse: an MLflow store inside ``tmp``."""
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlruns/mlflow.db", **extra}


def wait_for_health(base: str, seconds: float = 120.0) -> None:
    """Wait until `altaviz serve` at ``base`` answers /health (it loads its snapshot first)."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"altaviz serve at {base} did not answer /health in {seconds:.0f} s")
