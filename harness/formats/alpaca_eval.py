"""AlpacaEval `annotations.json`: generator_1 (the baseline) vs generator_2, judged by `annotator`.

preference 1 = output_1 better, 2 = output_2 better, 0 or 1.5 = draw; a weighted judge's value in between
goes to the nearer side; a missing preference is dropped. The question id is a short hash of the
instruction (AlpacaEval has none); style counts come from the two outputs; `extra` keeps the preference, the
row's 0-based `index` (what instruction-difficulty files are keyed by) and the outputs' character lengths
`len_1`, `len_2` (what AlpacaEval's avg_length and length-controlled win rate use).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness.answer_style import style_metadata
from harness.fingerprint import content_hash
from harness.formats.rows import Imported, RowLog, file_digest, json_rows, row_key
from harness.records import Battle

FORMAT = "alpaca-eval"


def preference_winner(value: Any) -> str | None:
    """The winner an AlpacaEval preference means, or None when there is none."""
    try:
        p = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(p):
        return None
    if p == 0 or p == 1.5:
        return "tie"
    return "model_a" if p < 1.5 else "model_b"


def read_alpaca_eval(path: Path, skip_bad: bool = False) -> Imported:
    """One annotations.json, in row order (the source names its annotator folder: the file name is generic)."""
    log = RowLog(FORMAT, path, skip_bad, source=f"import:{path.parent.name}/{path.name}")
    digest = file_digest(path)
    for row in json_rows(path, log):
        with log.row(row.where):
            r = row.value
            winner = preference_winner(r.get("preference"))
            if winner is None:
                log.dropped += 1
                continue
            qid = content_hash(r["instruction"]).split(":")[1][:16]
            log.battles.append(Battle(
                model_a=r["generator_1"], model_b=r["generator_2"], winner=winner, source=log.source,
                question_set="alpaca_eval", question_id=qid, turn=1, category=r.get("dataset"),
                judge=str(r["annotator"]), battle_key=row_key(FORMAT, digest, row.number),
                extra={"preference": float(r["preference"]), "index": row.number - 1,
                       "len_1": len(r["output_1"] or ""), "len_2": len(r["output_2"] or ""),
                       "conv_metadata": style_metadata(r["output_1"] or "", r["output_2"] or "")}))
    return log.result()
