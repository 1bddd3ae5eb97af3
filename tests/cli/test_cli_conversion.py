"""The command line's parameter conversion (cli/app.py `_ConvertedWhenNeeded`): the values it
takes as they are come out exactly as typer's own conversion makes them, the others go to
typer's conversion, and an evaluation does not import what it does not use (pydantic for
the conversion, jsonschema for JSON forms, multiprocessing for the language's workers)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import typer.main

from cli.main import app
from tests.conftest import drop_database

# typer's own conversion, compared with (cli/app.py keeps typer's as it is without it)
build_runtime_param = pytest.importorskip("typer._coercion").build_runtime_param
from typer._click import Context  # noqa: E402
from typer._click.exceptions import BadParameter  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _params(*path: str) -> tuple[object, list]:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    ctx = Context(command)
    return ctx, command.get_params(ctx)


def _converted(runtime, value, param, ctx):
    try:
        return "value", runtime.coerce(value, param=param, ctx=ctx)
    except BadParameter as error:
        return "refused", error.format_message()


def _both(param, ctx, value):
    ours = _converted(param.get_runtime_param(), value, param, ctx)
    typers = _converted(build_runtime_param(param.type_descriptor), value, param, ctx)
    return ours, typers


@pytest.mark.parametrize("value", [None, "", "main", " spaced ", "Kraków", "-", "a\0b",
                                   "12", "x" * 5000])
def test_text_parameters_come_out_as_typer_makes_them(value):
    ctx, params = _params("eval")
    texts = [param for param in params if getattr(param, "type_descriptor", None)
             and param.type_descriptor.annotation is str]
    assert {param.name for param in texts} >= {"expression", "database", "now", "mongo_uri"}
    for param in texts:
        ours, typers = _both(param, ctx, value)
        assert ours == typers and type(ours[1]) is type(typers[1])


def test_path_parameters_come_out_as_typer_makes_them(tmp_path):
    unreadable = tmp_path / "locked"
    unreadable.mkdir()
    unreadable.chmod(0)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    values = [None, "", ".", str(tmp_path), str(tmp_path / "missing"), str(a_file),
              str(unreadable), "~/x", "a\0b", "relative/dir"]
    checked = 0
    for path in (("eval",), ("store", "stop"), ("import", "contacts"), ("check",)):
        ctx, params = _params(*path)
        for param in params:
            descriptor = getattr(param, "type_descriptor", None)
            if descriptor is None or descriptor.annotation is not Path:
                continue
            for value in values:
                ours, typers = _both(param, ctx, value)
                assert ours == typers, (path, param.name, value)
                checked += 1
    unreadable.chmod(0o700)
    assert checked >= 3 * len(values)


@pytest.mark.parametrize("value", ["3", "-1", "abc", "", "1.5"])
def test_other_parameters_keep_typers_conversion(value):
    ctx, params = _params("eval")
    (maximum,) = [param for param in params if param.name == "maximum"]
    ours, typers = _both(maximum, ctx, value)
    assert ours == typers


def test_a_bad_number_is_refused_in_typers_words(offline):
    result = offline("eval", "Age > 1", "--maximum", "abc")
    assert result.exit_code == 2
    assert "Invalid value for '--maximum'" in result.output
    assert "valid integer" in result.output


def test_an_evaluation_imports_only_what_it_uses(store_server, tmp_path):
    """A text expression evaluated with the store's folder given (a path) and options of
    text: neither pydantic (typer's conversion) nor jsonschema (JSON forms) nor
    multiprocessing (the language's worker processes) is imported."""
    name = f"test_{uuid.uuid4().hex[:20]}"
    script = (
        "import sys\n"
        "from cli.main import app\n"
        "try:\n"
        "    app()\n"
        "except SystemExit as end:\n"
        "    assert not end.code, end.code\n"
        "print(sorted(m for m in ('pydantic', 'jsonschema', 'multiprocessing') "
        "if m in sys.modules))\n")
    env = {**os.environ, "SEGMENTQL_MONGO_DB": name}
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, "eval", 'FirstName equals "x" or CreateTime after 2020-01-01',
             "--data-dir", str(tmp_path), "--mongo-uri", store_server, "--database", "main",
             "--now", "2024-06-01T00:00:00Z"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    finally:
        drop_database(store_server, name)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["0", "[]"]
