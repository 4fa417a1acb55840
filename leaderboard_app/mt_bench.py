"""The leaderboard's MT-bench columns: each model's mean 1-10 single-answer grade (FastChat's MT-bench score)
and its per-category means, from the store's single judgments (`harness.judge.results.single_results`).

One column per judge ("MT-bench (gpt-4)"), never one mixed over judges; categories come from the question
sets that resolve (`question_categories`). `leaderboard_app.data.load_board` joins them to the board.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from harness.judge.grades import question_categories, single_results
from harness.records import Judgment
from leaderboard_app.board import Board


def mt_bench_columns(judgments: Sequence[Judgment], names: pd.Series) -> pd.DataFrame:
    """model_id-indexed columns `MT-bench (<judge>)` and `MT-bench (<judge>) <category>`.

    `names` maps model id -> the name the board shows (the names judgments record).
    """
    by_name = pd.Series(names.index, index=names.to_numpy())
    by_name = by_name[~by_name.index.duplicated(keep="last")]
    out = pd.DataFrame(index=names.index)
    categories = question_categories(j.question_set for j in judgments)
    for judge in sorted({j.judge for j in judgments}):
        mine = [j for j in judgments if j.judge == judge]
        label = f"MT-bench ({judge})"
        for row in single_results(mine, None, categories):
            if row.model not in by_name.index:
                continue
            model_id = by_name[row.model]
            out.loc[model_id, label] = row.score
            for category, value in row.categories.items():
                out.loc[model_id, f"{label} {category}"] = value
    return out


def with_mt_bench(board: Board, columns: pd.DataFrame) -> Board:
    """The board with the MT-bench columns joined on model_id (unchanged when there are none)."""
    if columns.empty or not len(columns.columns):
        return board
    frame = board.frame.set_index("model_id", drop=False).join(columns).reset_index(drop=True)
    return board._replace(frame=frame)


def mt_bench_column_names(frame: pd.DataFrame) -> list[str]:
    """The MT-bench columns of a board frame: overall scores first, then per-category ones."""
    found = [c for c in frame.columns if isinstance(c, str) and c.startswith("MT-bench (")]
    return sorted(found, key=lambda c: (not c.endswith(")"), c))
