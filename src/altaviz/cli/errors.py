"""The one place errors become exit codes.

An :class:`~altaviz.core.errors.AltavizError` is the user's to fix: one line on stderr and
its kind's exit code. Anything else is a bug in Altaviz: one line that says so, and the
traceback with ``--debug``; exit code 70 (``EX_SOFTWARE``), never one of a user error's codes.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from altaviz.core.errors import AltavizError

EXIT_BUG = 70
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


class Flags:
    """Options of the root command that every command obeys."""

    debug = False


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and the exit code: the contract for every user error. The message
    is text, not markup: "[unresolved dependency: ...]" or a list of names stays as written."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def exits_cleanly(command: F) -> F:
    """Run ``command`` with errors mapped to exit codes (see the module's docstring)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise  # the command line's own exits and usage errors
        except AltavizError as exc:
            fail(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                 exc.exit_code)  # fmt: skip
        except Exception as exc:
            if Flags.debug:
                raise
            err.print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
                "This is a bug in Altaviz. Rerun with --debug for the traceback and report it.",
                highlight=False,
                soft_wrap=True,
                markup=True,
            )
            sys.exit(EXIT_BUG)

    return run  # type: ignore[return-value]


def reflowed(text: str) -> str:
    r"""A docstring's paragraphs each on one line, for the terminal to wrap: Typer's Rich help
    keeps a docstring's line breaks, which then break lines mid-sentence at any width.

    >>> reflowed("Run the pipeline,\n    day by day.\n\n    Incremental.")
    'Run the pipeline, day by day.\n\nIncremental.'
    """
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _help_reflowed(options: dict[str, Any], fn: Callable[..., Any]) -> dict[str, Any]:
    """A command's options with its help (given, or its docstring) reflowed."""
    text = options.get("help") or fn.__doc__
    return {**options, "help": reflowed(text)} if text else options


class Group(typer.Typer):
    """A Typer app whose every command maps errors to exit codes, its help reflowed.

    Help texts are Rich markup: a literal bracket is written ``\\[`` (``"\\\\[default: …]"``),
    or Rich takes it for a tag and drops it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("no_args_is_help", True)
        kwargs.setdefault("pretty_exceptions_enable", False)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:  # type: ignore[override]
        def decorator(fn: F) -> F:
            super(Group, self).command(*args, **_help_reflowed(kwargs, fn))(exits_cleanly(fn))
            return fn

        return decorator

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:  # type: ignore[override]
        def decorator(fn: F) -> F:
            return super(Group, self).callback(*args, **_help_reflowed(kwargs, fn))(fn)

        return decorator
