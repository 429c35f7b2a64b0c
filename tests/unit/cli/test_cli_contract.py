"""What every command owes its user: defaults in its help, one line for a user's mistake,
and a bug shown as a bug (never as a user error)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from altaviz.cli import app
from altaviz.cli.errors import EXIT_BUG

runner = CliRunner()
WIDE = {"COLUMNS": "300", "TERMINAL_WIDTH": "300"}


def commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group of commands
            yield from commands(command, (*path, name))
        else:
            yield (*path, name)


ALL = sorted(commands(typer.main.get_command(app)))


def test_every_command_is_reachable():
    assert {("pipeline",), ("simulate",), ("lake", "vacuum"), ("dev", "kafka", "start")} <= set(ALL)


def command_at(path: tuple[str, ...]) -> Any:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_help_shows_every_default_written_in_brackets(path):
    result = runner.invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    shown = " ".join(result.stdout.split())
    # Rich markup ate "[default: ...]" and left a space before the full stop, before.
    assert not re.search(r"\w`? \.\s", shown)
    for param in command_at(path).params:
        # Unescaped, Rich takes the bracket for a markup tag and drops it.
        assert not re.search(r"(?<!\\)\[(default|platform)", param.help or ""), param.name
        for bracket in re.findall(r"\\\[[^]]*]", param.help or ""):
            assert bracket.lstrip("\\") in shown, (param.name, bracket)


def test_help_wraps_at_the_terminal_not_at_the_docstrings_line_breaks():
    """Each paragraph of a command's description is one line on a wide terminal, in the list
    of commands and in its own help; flags that are off by default have no --no- twin."""
    listing = runner.invoke(app, ["--help"], env=WIDE).stdout
    pipeline = runner.invoke(app, ["pipeline", "--help"], env=WIDE).stdout
    assert re.search(r"diagnose +Diagnose one compressor .* else the lakehouse\.", listing)
    assert "a rerun on the same input changes nothing" in pipeline  # broken after "the"
    assert "--skip-ml" in pipeline and "--no-skip-ml" not in pipeline


def test_pipeline_help_names_its_defaults():
    text = runner.invoke(app, ["pipeline", "--help"], env=WIDE).stdout
    for default in (
        "[default: data/fleet]",
        "[default: ALTAVIZ_LAKEHOUSE_ROOT or ./lakehouse]",
        "[platform.yaml: 300]",
        "[default: polars]",
    ):
        assert default in text, default


def test_a_user_error_is_one_line_and_exit_code_2(tmp_path):
    result = runner.invoke(app, ["quality", "--lakehouse", str(tmp_path), "--date", "2026-13-01"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --date '2026-13-01' is not a date (YYYY-MM-DD)"


@pytest.fixture
def broken_transform(monkeypatch):
    """A bug deep below the command line: the quality report's read raises ValueError."""

    def bug(*_args, **_kwargs):
        raise ValueError("a bug in a transform")

    monkeypatch.setattr("altaviz.pipeline.reports.quality_report_rows", bug)


def test_a_value_error_from_below_is_a_bug_not_a_user_error(tmp_path, broken_transform):
    result = runner.invoke(app, ["quality", "--lakehouse", str(tmp_path)])
    assert result.exit_code == EXIT_BUG != 2
    assert "internal error: ValueError: a bug in a transform" in result.stderr
    assert "--debug" in result.stderr and "Traceback" not in result.output


def test_an_error_is_shown_as_written_brackets_and_all(tmp_path, monkeypatch):
    from altaviz.core.errors import ServiceError

    said = "cannot start Spark: [unresolved dependency: io.delta#delta-spark: not found]"

    def unavailable(*_args, **_kwargs):
        raise ServiceError(said)

    monkeypatch.setattr("altaviz.pipeline.reports.quality_report_rows", unavailable)
    result = runner.invoke(app, ["quality", "--lakehouse", str(tmp_path)], env=WIDE)
    assert result.exit_code == 3
    assert result.stderr.strip() == f"error: {said}"


def test_debug_shows_the_bug_with_its_traceback(tmp_path, broken_transform):
    result = runner.invoke(app, ["--debug", "quality", "--lakehouse", str(tmp_path)])
    assert result.exit_code == 1
    assert isinstance(result.exception, ValueError)


def test_every_user_facing_error_kind_has_one_base():
    from altaviz.agent.data import CompressorIdError, UnknownCompressor
    from altaviz.config import ConfigError
    from altaviz.core.errors import ServiceError, StorageError
    from altaviz.engines import EngineError
    from altaviz.pipeline import PipelineError
    from altaviz.stream import StreamError, StreamUnreachable

    # Each kind's code has one meaning (README): 2 input, 3 service, 5 storage.
    for kind in (CompressorIdError, UnknownCompressor, ConfigError, PipelineError, StreamError):
        assert kind.exit_code == 2
    assert issubclass(EngineError, ServiceError) and EngineError.exit_code == 3
    assert issubclass(StreamUnreachable, StreamError) and StreamUnreachable.exit_code == 3
    assert StorageError.exit_code == 5
