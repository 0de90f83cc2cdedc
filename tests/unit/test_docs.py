"""The documentation stays true to the code: variables, commands and paths it names exist."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import typer.main

from rag.cli import app
from rag.config import Settings
from rag.errors import ConfigError
from tests.conftest import REPO

DOCS = REPO / "docs"
VARIABLE = re.compile(r"\b(?:RAG_[A-Z0-9_]+|OPENAI_API_KEY)\b")


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every variable asked for."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = values or {}
        self.asked: list[str] = []

    def __getitem__(self, key: str) -> str:
        self.asked.append(key)
        return self.values[key]

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.append(key)
        return self.values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def settings_variables() -> list[str]:
    env = RecordingEnv()
    Settings.from_env(env)
    return sorted(set(env.asked))


def table_rows(text: str) -> dict[str, str]:
    """Each variable named in a table's first column, with that row's second column (its default)."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 3:
            for name in VARIABLE.findall(cells[0]):
                rows[name] = cells[1]
    return rows


def field_of(variable: str) -> str:
    """The Settings field a variable sets, found by setting it and seeing what changes."""
    default = Settings()
    for probe in ("64", "1", "user:secret"):
        try:
            changed = Settings.from_env({variable: probe})
        except ConfigError:
            continue
        fields = [f.name for f in dataclasses.fields(Settings) if getattr(changed, f.name) != getattr(default, f.name)]
        if fields:
            return fields[0]
    raise AssertionError(f"setting {variable} changes no Settings field")


def shown_default(value: object) -> str:
    """How the configuration page writes a default."""
    if value is None or value == ():
        return "unset"
    if isinstance(value, bool):
        return f"`{int(value)}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def test_settings_reads_the_variables_it_is_checked_against() -> None:
    names = settings_variables()
    assert len(names) >= 25 and "RAG_DATA_DIR" in names and "OPENAI_API_KEY" in names


def test_table_rows_finds_a_missing_variable() -> None:
    page = "| variable | default | meaning |\n|---|---|---|\n| `RAG_TOP_K` | `4` | passages |\n"
    assert set(settings_variables()) - set(table_rows(page)) >= {"RAG_DATA_DIR", "RAG_LLM"}


def test_every_variable_settings_reads_is_documented_with_its_default() -> None:
    rows = table_rows((DOCS / "configuration.md").read_text(encoding="utf-8"))
    missing = [name for name in settings_variables() if name not in rows]
    assert missing == [], f"add these to docs/configuration.md: {missing}"
    for name in settings_variables():
        if name == "OPENAI_API_KEY":
            continue  # a fallback for RAG_LLM_API_KEY, which carries the field's default
        expected = shown_default(getattr(Settings(), field_of(name)))
        assert rows[name].startswith(expected), f"{name}: docs say {rows[name]!r}, Settings has {expected}"


def test_variables_read_outside_settings_are_documented() -> None:
    read = {
        name
        for package in ("rag", "ingest", "ui")
        for path in (REPO / package).rglob("*.py")
        for name in re.findall(r"environ(?:\.get\(|\[)\"(RAG_[A-Z0-9_]+)\"", path.read_text(encoding="utf-8"))
    }
    assert "RAG_MODEL_CACHE" in read
    rows = table_rows((DOCS / "configuration.md").read_text(encoding="utf-8"))
    assert sorted(read - set(rows)) == []


def test_every_documented_variable_is_read_somewhere() -> None:
    sources = [REPO / d for d in ("rag", "ingest", "ui", "tests", "bench", "scripts")]
    code = " ".join(
        p.read_text(encoding="utf-8", errors="replace")
        for d in sources
        for p in d.rglob("*")
        if p.suffix in (".py", ".sh") and p.resolve() != Path(__file__).resolve()
    )
    documented = table_rows((DOCS / "configuration.md").read_text(encoding="utf-8"))
    stale = [name for name in documented if not re.search(rf"\b{name}\b", code)]
    assert stale == [], f"documented but read nowhere: {stale}"


def cli_lines(text: str) -> list[list[str]]:
    """The `rag ...` command lines in the page's code blocks, split into words (comments dropped).

    A line counts when it starts with `rag ` (or `$ rag `): indented ones are diagrams or output."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced and line.removeprefix("$ ").startswith("rag "):
            command = line.removeprefix("$ ").split("#")[0]
            lines.append(re.findall(r'"[^"]*"|\S+', command)[1:])
    return lines


def resolve(group: Any, words: list[str]) -> tuple[list[str], Any]:
    """The command (and subcommand) that the words name, and the command object (typer's click)."""
    names: list[str] = []
    command = group
    for word in words:
        if word.startswith("-") or not hasattr(command, "commands"):
            break
        assert word in command.commands, f"`rag {' '.join([*names, word])}` is not a command of `rag --help`"
        names.append(word)
        command = command.commands[word]
    return names, command


def unknown_options(command: Any, words: list[str]) -> list[str]:
    """The options in the words that the command does not take."""
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)} | {"--help"}
    return sorted({w.split("=")[0] for w in words if w.startswith("-")} - known)


def test_every_command_of_the_cli_page_exists_with_its_options() -> None:
    group = typer.main.get_command(app)
    lines = cli_lines((DOCS / "cli.md").read_text(encoding="utf-8"))
    assert len(lines) >= 20
    seen = set()
    for words in lines:
        names, command = resolve(group, words)
        seen.add(names[0])
        assert unknown_options(command, words) == [], f"`rag {' '.join(names)}` has no such option"
    assert seen == set(group.commands), f"commands missing from docs/cli.md: {set(group.commands) - seen}"


@pytest.mark.parametrize("page", ["README.md", *(f"docs/{p.name}" for p in sorted(DOCS.glob("*.md")))])
def test_commands_shown_anywhere_in_the_docs_exist(page: str) -> None:
    group = typer.main.get_command(app)
    for words in cli_lines((REPO / page).read_text(encoding="utf-8")):
        names, command = resolve(group, words)
        assert unknown_options(command, words) == [], f"{page}: `rag {' '.join(names)}` has no such option"


def test_the_cli_check_catches_a_command_or_option_that_does_not_exist() -> None:
    group = typer.main.get_command(app)
    with pytest.raises(AssertionError, match="not a command"):
        resolve(group, cli_lines("```\nrag reindex --all\n```")[0])
    words = cli_lines('```\n$ rag ask "Who?" --fast -k 3  # a comment --json\n```')[0]
    assert unknown_options(resolve(group, words)[1], words) == ["--fast"]


def test_rag_help_lists_the_commands_the_page_documents() -> None:
    from typer.testing import CliRunner

    shown = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    for words in cli_lines((DOCS / "cli.md").read_text(encoding="utf-8")):
        assert re.search(rf"\b{re.escape(words[0])}\b", shown), words[0]


@pytest.mark.parametrize("page", ["README.md", "docs/development.md"])
def test_layout_tables_name_paths_that_exist(page: str) -> None:
    text = (REPO / page).read_text(encoding="utf-8")
    table = text[text.index("## Layout") :]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    paths = [p for cell in first_cells for p in re.findall(r"`([^`]+)`", cell)]
    assert len(paths) >= 15
    missing = [p for p in paths if not (REPO / p).exists()]
    assert missing == [], f"{page} names paths that do not exist: {missing}"


def test_a_new_benchmark_report_keeps_the_hand_written_history(tmp_path: Path) -> None:
    from bench.report import HAND_WRITTEN, kept_history

    results = tmp_path / "RESULTS.md"
    results.write_text(f"# generated\n\nold table\n\n{HAND_WRITTEN}\n\n## Measurement history\n\nfacts\n")
    assert kept_history(results) == ["", HAND_WRITTEN, "", "## Measurement history", "", "facts"]
    results.write_text("# generated, no history\n")
    assert kept_history(results) == []
    assert HAND_WRITTEN in (REPO / "bench" / "RESULTS.md").read_text(encoding="utf-8")


def test_every_module_is_in_the_layout_table() -> None:
    text = (DOCS / "development.md").read_text(encoding="utf-8")
    table = text[text.index("## Layout") :]
    modules = [p for d in ("rag", "ingest", "ui") for p in (REPO / d).rglob("*.py") if p.name != "__init__.py"]
    missing = [str(p.relative_to(REPO)) for p in modules if f"`{p.relative_to(REPO)}`" not in table]
    assert missing == [], f"add these to the layout table of docs/development.md: {missing}"
