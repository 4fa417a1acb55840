"""llm-leaderboard.streamlit.app's table: the `## Leaderboard` markdown table of LudwigStumpp/llm-leaderboard's
README, one row per model, every filled cell a markdown link `[value](source URL)`.

A filled cell becomes one `PublishedResult` whose source is the cell's own link; empty cells are sparse
gaps, not zeros. Model Name, Publisher and Open? are facts about the model, kept in `extra`.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.errors import HarnessError
from harness.formats.benchmarks import number, result
from harness.formats.rows import file_digest
from harness.records import PublishedResult

FORMAT = "llm-leaderboard"
HOME = "https://llm-leaderboard.streamlit.app/"
_LINK = re.compile(r"^\[(?P<text>[^\]]*)\]\((?P<url>[^)\s]+)\)$")
_FACTS = ("model name", "publisher", "open?")


def table_lines(text: str, heading: str = "## Leaderboard") -> list[str]:
    """The `|`-rows under `heading`, up to the next heading (header and separator included)."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("#"):
            inside = line.strip() == heading
            continue
        if inside and line.lstrip().startswith("|"):
            lines.append(line.strip())
    return lines


def cells(line: str) -> list[str]:
    """A markdown table row's cells, stripped (the leading and trailing pipes dropped)."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def split_link(cell: str) -> tuple[str, str | None]:
    """`[text](url)` -> (text, url); plain text -> (text, None)."""
    match = _LINK.match(cell.strip())
    return (match["text"].strip(), match["url"]) if match else (cell.strip(), None)


def is_llm_leaderboard(path: Path) -> bool:
    """A markdown file with a `## Leaderboard` table whose first column is Model Name."""
    if path.suffix.lower() != ".md":
        return False
    lines = table_lines(path.read_text(encoding="utf-8-sig"))
    return bool(lines) and cells(lines[0])[0].lower() == "model name"


def read_llm_leaderboard(path: Path, source_url: str | None = None,
                         date: str | None = None) -> list[PublishedResult]:
    """Every filled benchmark cell of the table, in row then column order."""
    lines = table_lines(path.read_text(encoding="utf-8-sig"))
    if len(lines) < 2 or cells(lines[0])[0].lower() != "model name":
        raise HarnessError(f"{path} has no '## Leaderboard' table starting with 'Model Name'",
                           hint="pass the README.md of LudwigStumpp/llm-leaderboard or --format")
    header, digest, found = cells(lines[0]), file_digest(path), []
    for number_, line in enumerate(lines[2:], start=3):
        row = cells(line)
        if len(row) != len(header):
            raise HarnessError(f"row {number_} of the table in {path} has {len(row)} cells, not {len(header)}",
                               hint="fix the row")
        model, model_url = split_link(row[0])
        named = {column.lower(): cell for column, cell in zip(header, row)}
        facts = {"publisher": named.get("publisher"), "open": named.get("open?", "").lower() == "yes",
                 "model_url": model_url}
        for column, cell in zip(header, row):
            text, url = split_link(cell)
            value = number(text)
            if column.lower() in _FACTS or value is None:
                continue
            found.append(result(fmt=FORMAT, leaderboard=FORMAT, digest=digest, model=model, column=column,
                                value=value, source_url=url or source_url or HOME, source_file=path.name,
                                source_date=date, extra=facts))
    return found
