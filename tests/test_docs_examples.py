"""The docs' code runs: every Python block of README.md and docs/*.md executes (a moved function
breaks this test, not a reader), and every `soilco2 ...` line of their shell blocks names a command
and options the CLI has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(kind: str) -> list[tuple[str, str]]:
    return [(f"{doc.name}#{k}", code) for doc in DOCS
            for k, (lang, code) in enumerate(BLOCK.findall(doc.read_text(encoding="utf-8"))) if lang == kind]  # fmt: skip


@pytest.mark.realdata
@pytest.mark.parametrize("where, code", blocks("python"), ids=[w for w, _ in blocks("python")])
def test_python_example_runs(where, code, data_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    monkeypatch.setenv("SOILCO2_DATA", str(data_root))
    exec(compile(code, where, "exec"), {"__name__": "__doc_example__"})


def _shell_lines() -> list[tuple[str, str]]:
    out = []
    for where, code in blocks("bash"):
        for line in code.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("soilco2 "):
                out.append((where, line))
    return out


def _help_examples() -> list[tuple[str, str]]:
    from soilco2.cli import EXAMPLES

    return [(f"--help of {name}", line) for name, line in EXAMPLES.items()]


def _commands(command, path=()):
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield " ".join(path)


def test_every_command_has_an_example_in_its_help():
    import typer
    from typer.testing import CliRunner

    from soilco2.cli import EXAMPLES, app

    names = set(_commands(typer.main.get_command(app)))
    assert names == set(EXAMPLES), names ^ set(EXAMPLES)
    for name in ("daily site", "data srdb summary", "global run"):
        res = CliRunner().invoke(app, [*name.split(), "--help"], env={"COLUMNS": "200"})
        assert res.exit_code == 0 and f"Example:  {EXAMPLES[name]}" in res.output
    res = CliRunner().invoke(app, ["daily", "site", "--help"], env={"COLUMNS": "250"})
    assert "the column names say, precip_mm the day's total" in res.output  # the docstring's breaks do not leak


def test_the_docs_have_examples_to_check():
    assert len(blocks("python")) >= 3 and len(_shell_lines()) >= 20


@pytest.mark.parametrize(
    "where, line", _shell_lines() + _help_examples(), ids=[f"{w}:{ln}" for w, ln in _shell_lines() + _help_examples()]
)
def test_shell_example_names_real_commands_and_options(where, line):
    import typer

    from soilco2.cli import app

    command = typer.main.get_command(app)  # typer's own click: groups are told by get_command
    words = shlex.split(line)[1:]
    while hasattr(command, "get_command") and words and not words[0].startswith("-"):
        sub = command.get_command(command.make_context(command.name or "soilco2", [], resilient_parsing=True), words[0])
        assert sub is not None, f"{where}: no command {words[0]!r} in: {line}"
        command, words = sub, words[1:]
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)} | {"--help"}
    assert not hasattr(command, "get_command") or not words or words[0] in known, f"{where}: incomplete: {line}"
    for word in words:
        if word.startswith("--"):
            assert word.split("=")[0] in known, f"{where}: {command.name} has no option {word}: {line}"
