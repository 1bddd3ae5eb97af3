"""The command line as a newcomer meets it: --version, help without type tags, --debug, a
closed pipe, and the layout of cli/ (no import circle, no private names across modules)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_CLI = "import sys; from cli.main import app; sys.argv[0] = 'segmentql'; app()"


def test_version(offline):
    result = offline("--version")
    assert result.exit_code == 0
    assert result.stdout == f"segmentql {metadata.version('segmentql')}\n"


@pytest.mark.parametrize("command", [[], ["segments", "show"], ["eval"], ["import", "contacts"],
                                     ["diagnose"], ["segments", "update"], ["campaigns", "list"]])
def test_help_shows_no_type_tags(offline, command):
    result = offline(*command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.stdout
    tags = re.findall(r"<(?:str|bool|int|float|path|text|list\[\w+\])>", result.stdout)
    assert tags == [], result.stdout


def test_options_show_their_metavar(offline):
    result = offline("segments", "show", "--help")
    assert re.search(r"--now\s+T\s", result.stdout)
    assert re.search(r"--database\s+NAME\s", result.stdout)


def test_an_unexpected_error_is_one_line_and_debug_adds_the_traceback(segmentql, tmp_path):
    assert segmentql("segments", "create", "Everyone", "").exit_code == 0
    target = str(tmp_path / "no-such-folder" / "members.csv")
    plain = segmentql("export", "Everyone", "--out", target)
    assert plain.exit_code == 1
    assert plain.stderr.startswith("error: FileNotFoundError")
    assert "Traceback" not in plain.stderr
    debugged = segmentql("--debug", "export", "Everyone", "--out", target)
    assert debugged.exit_code == 1
    assert "Traceback (most recent call last)" in debugged.stderr
    assert debugged.stderr.rstrip().splitlines()[-1].startswith("error: FileNotFoundError")


def test_debug_from_the_environment(segmentql, tmp_path, monkeypatch):
    assert segmentql("segments", "create", "Everyone", "").exit_code == 0
    monkeypatch.setenv("SEGMENTQL_DEBUG", "1")
    result = segmentql("export", "Everyone", "--out", str(tmp_path / "missing" / "x.csv"))
    assert result.exit_code == 1 and "Traceback" in result.stderr


def test_a_reader_that_stops_early_ends_the_command_quietly():
    # `segmentql parse ... | head -0`: the reader is gone before the first line is written,
    # and the output (one value a line) is larger than a pipe holds.
    expression = "Age in (" + ", ".join(str(n) for n in range(20_000)) + ")"
    process = subprocess.Popen([sys.executable, "-c", RUN_CLI, "parse", expression], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert stderr == ""


def test_language_services_do_not_import_main():
    code = ("import sys, cli.language_services; "
            "assert 'cli.main' not in sys.modules, 'cli.language_services imports cli.main'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_no_private_names_are_imported_across_modules_in_cli():
    found = []
    for path in sorted((ROOT / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                found += [f"{path.name}: from {node.module} import {alias.name}"
                          for alias in node.names
                          if alias.name.startswith("_") and not alias.name.startswith("__")]
            elif isinstance(node, ast.Import):
                found += [f"{path.name}: import {alias.name}" for alias in node.names
                          if any(part.startswith("_") for part in alias.name.split("."))]
    assert found == []


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_serves_on_the_port_and_host_given(monkeypatch):
    monkeypatch.setenv("HOST", "some-host-name")  # set by some shells: not taken

    def serve_line(*variables):
        planned = subprocess.run(["make", "-n", "run", *variables], cwd=ROOT, check=True,
                                 capture_output=True, text=True).stdout
        return next(line for line in planned.splitlines() if "segmentql serve" in line)
    assert serve_line().endswith("serve --host 127.0.0.1 --port 8000")
    assert serve_line("PORT=8001", "HOST=0.0.0.0").endswith("serve --host 0.0.0.0 --port 8001")
