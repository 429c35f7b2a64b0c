"""Delta commits on a background thread while the main thread prepares the next date."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class WriteBehind:
    """Commits on one background thread, in the order submitted. At most ``depth`` commits
    wait; ``drain`` re-raises a failed one.

    >>> with WriteBehind() as writer:
    ...     writer.submit(print, "committed")
    committed
    """

    def __init__(self, depth: int = 2) -> None:
        # One thread: commits to a table must be serial (delta-rs refuses racing commits).
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="altaviz-writer")
        self._pending: list[Future[Any]] = []
        self._depth = depth

    def submit(
        self, fn: Callable[..., Any], *args: Any, then: Callable[[Any], None] | None = None
    ) -> None:
        """Queue ``fn(*args)``; ``then`` receives its result, on the writer's thread."""
        while len([f for f in self._pending if not f.done()]) >= self._depth:
            self._pending[0].result()
            self._pending.pop(0)
        self._pending.append(self._pool.submit(_call, fn, args, then))

    def drain(self) -> None:
        try:
            for future in self._pending:
                future.result()
        finally:
            self._pending.clear()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.drain()
            else:  # already failing: let queued commits finish, report the first error
                for future in self._pending:
                    future.exception()
        finally:
            self._pool.shutdown(wait=True)


def _call(fn: Callable[..., Any], args: tuple[Any, ...], then: Callable[[Any], None] | None) -> Any:
    result = fn(*args)
    if then is not None:
        then(result)
    return result
