"""Published leaderboard tables as CSV: the LMSYS blog's tables and AlpacaEval's leaderboards.

`lmsys-csv`: a `model` column and one column per number (Arena Elo, MT-bench, MMLU); `rank`, `license` and
vote counts are facts kept in `extra`. The date and post come from the file name
(`lmsys_blog_2023-06-22_...csv`). `alpaca-eval-csv`: AlpacaEval's `<annotator>_leaderboard.csv` (first
column the model), giving the win rate and the length-controlled win rate against the baseline, with
their standard errors.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.formats.benchmarks import number, result
from harness.formats.rows import file_digest
from harness.records import PublishedResult

LMSYS = "lmsys-csv"
ALPACA = "alpaca-eval-csv"
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
# The LMSYS blog posts the published tables come from, by date (lm-sys/lm-sys.github.io blog/).
LMSYS_POSTS = {
    "2023-03-30": "https://lmsys.org/blog/2023-03-30-vicuna/",
    "2023-05-03": "https://lmsys.org/blog/2023-05-03-arena/",
    "2023-06-22": "https://lmsys.org/blog/2023-06-22-leaderboard/",
    "2023-12-07": "https://lmsys.org/blog/2023-12-07-leaderboard/",
}
_LMSYS_FACTS = ("rank", "license", "vote_count")
ALPACA_HOME = "https://tatsu-lab.github.io/alpaca_eval/"
# AlpacaEval column -> (benchmark suffix, its standard-error column)
_ALPACA_VALUES = {"win_rate": ("win rate", "standard_error"),
                  "length_controlled_winrate": ("LC win rate", "lc_standard_error")}
_ALPACA_FACTS = ("n_total", "n_wins", "n_draws", "avg_length", "mode")


def csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a CSV file (a byte-order mark tolerated)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def is_lmsys_csv(header: list[str]) -> bool:
    return "model" in header and any(column.lower() not in _LMSYS_FACTS and column != "model" for column in header)


def is_alpaca_csv(header: list[str]) -> bool:
    return bool(header) and header[0] == "" and "win_rate" in header


def file_date(path: Path) -> str | None:
    """The YYYY-MM-DD in a file's name, if any."""
    match = _DATE.search(path.name)
    return match[1] if match else None


def read_lmsys_csv(path: Path, source_url: str | None = None, date: str | None = None) -> list[PublishedResult]:
    """Every filled number of an LMSYS blog table, row by row."""
    header, rows = csv_rows(path)
    if "model" not in header:
        raise HarnessError(f"{path} has no 'model' column (columns: {', '.join(header)})",
                           hint="lmsys-csv needs one row per model; a pairwise table is not a leaderboard")
    date = date or file_date(path)
    url = source_url or LMSYS_POSTS.get(date or "", "https://lmsys.org/blog/")
    board = f"lmsys-blog-{date}" if date else path.stem
    digest, found = file_digest(path), []
    for row in rows:
        facts: dict[str, Any] = {k.lower(): row[k] for k in header if k.lower() in _LMSYS_FACTS and row[k]}
        for column in header:
            value = number(row[column])
            if column == "model" or column.lower() in _LMSYS_FACTS or value is None:
                continue
            found.append(result(fmt=LMSYS, leaderboard=board, digest=digest, model=row["model"], column=column,
                                value=value, source_url=url, source_file=path.name, source_date=date, extra=facts))
    return found


def read_alpaca_eval_csv(path: Path, source_url: str | None = None,
                         date: str | None = None) -> list[PublishedResult]:
    """Win rate and LC win rate (percent, against the leaderboard's baseline) of every model listed."""
    header, rows = csv_rows(path)
    if not is_alpaca_csv(header):
        raise HarnessError(f"{path} is not an AlpacaEval leaderboard (no model column and win_rate)",
                           hint="pass src/alpaca_eval/leaderboards/data_AlpacaEval*/..._leaderboard.csv")
    version = "AlpacaEval 2.0" if "alpacaeval_2" in str(path.parent.name).lower() else "AlpacaEval"
    annotator = path.stem.removesuffix("_leaderboard")
    digest, found = file_digest(path), []
    for row in rows:
        facts: dict[str, Any] = {k: row[k] for k in _ALPACA_FACTS if row.get(k)}
        for column, (suffix, error) in _ALPACA_VALUES.items():
            value = number(row.get(column))
            if value is None:
                continue
            found.append(result(fmt=ALPACA, leaderboard=f"{version} ({annotator})", digest=digest,
                                model=row[""], column=f"{version} {suffix}", value=value,
                                stderr=number(row.get(error)), metric=column, source_url=source_url or ALPACA_HOME,
                                source_file=path.name, source_date=date, extra={"annotator": annotator, **facts}))
    return found
