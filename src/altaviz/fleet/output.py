"""Where a simulation writes: a staging folder beside the target, swapped in only on success,
so a failed or interrupted run never leaves half-written output behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from altaviz.core.errors import InputError

MANIFEST = "manifest.json"


class OutputError(InputError):
    """The output folder cannot be used; the message says why in one line."""


@contextmanager
def staged_output(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``target`` atomically.

    An existing ``target`` is replaced only when it holds an earlier simulation (it has a
    manifest); any other non-empty folder is refused rather than deleted.
    """
    target = Path(os.path.abspath(target))
    if target.exists() and not target.is_dir():
        raise OutputError(f"output {target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).exists():
        raise OutputError(
            f"output {target} is not empty and holds no earlier simulation; "
            "choose another --output or empty it"
        )
    parent = target.parent
    blocker = next((p for p in (parent, *parent.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise OutputError(f"cannot write to {target}: {blocker} is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for stale in parent.glob(f".{target.name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed run
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot write to {parent}: {exc.strerror or exc}") from exc
    try:
        yield staging
        old = parent / f".{target.name}.old-{os.getpid()}"
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
