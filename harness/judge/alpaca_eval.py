"""AlpacaEval's leaderboard columns and its length-controlled win rate, computed as alpaca_eval computes them.

Definitions from tatsu-lab/alpaca_eval `metrics/helpers.py` (preferences in [1, 2], 0 read as 1.5;
win_rate = 100·mean(p − 1); standard_error = 100·sd(p − 1, ddof 1)/√n; n_wins = #(p − 1 > 0.5), n_wins_base =
#(p − 1 < 0.5), n_draws = #(p in {0, 1.5}); discrete_win_rate on preferences rounded to 1 or 2 first) and
`main.py` (avg_length = int(mean character length of the model's outputs)). The length-controlled win rate is
`metrics/glm_winrate.py`'s GLM (logistic regression on tanh of the standardised length difference, the
instruction difficulty and the model term, l1, liblinear, 5 GroupKFold splits, continuous labels by duplication)
predicted with the length difference set to 0. Pure functions; `harness judge results --mode alpaca-eval` runs them.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.records import Battle

# AlpacaEval's GLM names: which terms the formula has (its GLM_INFO); "v1" also regularises toward gamed
# baselines (df_gamed.csv), which is not published with the results, so the harness never claims it.
GLM_WITH_DIFFICULTY = "length_controlled_noreg"
GLM_WITHOUT_DIFFICULTY = "length_controlled_minimal"


@dataclass(frozen=True)
class AlpacaEvalRow:
    """One model against the baseline, in AlpacaEval's leaderboard columns."""

    model: str
    baseline: str
    win_rate: float
    standard_error: float
    n_wins: int
    n_wins_base: int
    n_draws: int
    n_total: int
    discrete_win_rate: float
    avg_length: int | None
    length_controlled_winrate: float | None
    lc_standard_error: float | None
    lc_glm: str | None


def _describe(prefs: np.ndarray) -> dict[str, Any]:
    """AbsoluteScoringRule.describe_head2head: preferences in [1, 2] (0 = draw) -> head-to-head columns."""
    n_draws = int(((prefs == 1.5) | (prefs == 0)).sum())
    p = np.where(prefs == 0, 1.5, prefs) - 1
    n = len(p)
    se = float(np.std(p, ddof=1) / math.sqrt(n)) * 100 if n > 1 else float("nan")
    return {"win_rate": float(p.mean()) * 100, "standard_error": se, "n_wins": int((p > 0.5).sum()),
            "n_wins_base": int((p < 0.5).sum()), "n_draws": n_draws, "n_total": n}


def head_to_head(prefs: Sequence[float]) -> dict[str, Any]:
    """win_rate, standard_error, n_wins, n_wins_base, n_draws, n_total and discrete_win_rate of preferences.

    Raises:
        HarnessError: a preference outside {0} ∪ [1, 2], or none at all.
    """
    values = np.asarray(prefs, dtype=float)
    if not len(values):
        raise HarnessError("no AlpacaEval preferences to score", hint="import an annotations.json first")
    bad = values[~((values == 0) | ((values >= 1) & (values <= 2)))]
    if len(bad):
        raise HarnessError(f"AlpacaEval preference {bad[0]} is outside [1, 2] (0 = draw)",
                           hint="1 = baseline better, 2 = model better, 1.5 or 0 = draw")
    out = _describe(values)
    # ZeroOneScoringRule: 1.5 -> 0 (draw), then rounded to 1 or 2
    discrete = np.where(values == 1.5, 0, np.round(values))
    out["discrete_win_rate"] = _describe(discrete)["win_rate"]
    return out


def read_instruction_difficulty(path: str | Path) -> dict[str, float]:
    """An instruction-difficulty CSV (AlpacaEval's instruction_difficulty.csv): first column the instruction's
    0-based index in the evaluation set, a column `instruction_difficulty` (or the
    second column) the value. Keys are strings.

    Raises:
        HarnessError: a missing or unreadable file.
    """
    source = Path(path).expanduser()
    if not source.is_file():
        raise HarnessError(f"no instruction-difficulty file {source}",
                           hint="a CSV of index (or instruction) and instruction_difficulty")
    with source.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2 or len(rows[0]) < 2:
        raise HarnessError(f"{source} has no instruction_difficulty rows", hint="two columns: index, value")
    header = rows[0]
    col = header.index("instruction_difficulty") if "instruction_difficulty" in header else 1
    try:
        return {r[0]: float(r[col]) for r in rows[1:] if r}
    except (ValueError, IndexError) as exc:
        raise HarnessError(f"{source}: bad instruction_difficulty value ({exc})") from None


def length_controlled(prefs: Sequence[float], len_baseline: Sequence[int], len_model: Sequence[int],
                      difficulty: Sequence[float] | None = None) -> tuple[float, float]:
    """AlpacaEval's length-controlled win rate and its standard error (both ×100).

    The design matrix is glm_winrate's formula `np.tanh(std_delta_len) + instruction_difficulty +
    not_gamed_baseline - 1` (without the difficulty term when `difficulty` is None: its
    `length_controlled_minimal`); std_delta_len = (len_baseline − len_model) / its sd (ddof 1); the
    prediction sets std_delta_len to 0 and averages the predicted preferences.
    """
    from sklearn import config_context
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GroupKFold

    y = np.where(np.asarray(prefs, dtype=float) == 0, 1.5, np.asarray(prefs, dtype=float)) - 1
    delta = np.asarray(len_baseline, dtype=float) - np.asarray(len_model, dtype=float)
    sd = np.std(delta, ddof=1)
    std_delta = delta / sd if sd > 0 else np.zeros_like(delta)
    columns = [np.tanh(std_delta)] + ([np.asarray(difficulty, dtype=float)] if difficulty is not None else [])
    x_train = np.column_stack([*columns, np.ones_like(y)])
    x_test = x_train.copy()
    x_test[:, 0] = 0.0
    # glm_winrate.fit_LogisticRegressionCV with is_ytrue_proba: each row twice (label 1 weighted p, label 0
    # weighted 1 - p), scored by the continuous log loss, folds grouped by row
    n = len(y)
    x_dup = np.vstack([x_train, x_train])
    labels = np.concatenate([np.ones(n), np.zeros(n)])
    true_prob = np.concatenate([y, 1 - y])
    groups = np.concatenate([np.arange(n), np.arange(n)])
    scorer = make_scorer(_logloss_continuous, response_method="predict_proba", greater_is_better=False)
    with config_context(enable_metadata_routing=True), warnings.catch_warnings():
        # sklearn >= 1.8 deprecates penalty="l1" in favour of l1_ratios; the fit is the same one
        warnings.simplefilter("ignore", FutureWarning)
        scorer = scorer.set_score_request(true_prob=True, true_sample_weight=True)
        model = LogisticRegressionCV(cv=GroupKFold(n_splits=5), scoring=scorer, random_state=123, dual=False,
                                     penalty="l1", solver="liblinear", fit_intercept=False)
        model.set_fit_request(sample_weight=True)
        model.fit(x_dup, labels, sample_weight=true_prob, groups=groups, true_prob=true_prob,
                  true_sample_weight=None)
        predicted = model.predict_proba(x_test)[:, 1]
    sem = float(np.std(predicted, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return float(predicted.mean()) * 100, sem * 100


def _logloss_continuous(y_true: np.ndarray, y_pred: np.ndarray, true_prob: np.ndarray,
                        true_sample_weight: np.ndarray | None = None) -> float:
    """glm_winrate.logloss_continuous: the log loss against the continuous preference, not the duplicated label."""
    target = np.where(y_true == 1, true_prob, 1 - true_prob)
    pred = np.clip(y_pred, 1e-15, 1 - 1e-15)
    losses = target * np.log(pred) + (1 - target) * np.log(1 - pred)
    if true_sample_weight is not None:
        losses = losses * true_sample_weight
    return float(-np.mean(losses))


def alpaca_eval_row(model: str, baseline: str, rows: Sequence[dict[str, Any]],
                    difficulty: dict[str, float] | None = None) -> AlpacaEvalRow:
    """One leaderboard row from per-instruction dicts with `preference`, and (for avg_length and the LC win
    rate) `len_baseline`, `len_model` and `index` (the instruction's position, for the difficulty lookup).

    Raises:
        HarnessError: bad preferences, or a difficulty file that lacks an instruction.
    """
    prefs = [float(r["preference"]) for r in rows]
    h2h = head_to_head(prefs)
    have_lengths = all(r.get("len_model") is not None and r.get("len_baseline") is not None for r in rows)
    avg_length = int(np.mean([r["len_model"] for r in rows])) if have_lengths else None
    lc = lc_se = None
    glm = None
    if have_lengths and len(rows) >= 10:
        values = None
        if difficulty is not None:
            missing = [r.get("index") for r in rows if str(r.get("index")) not in difficulty]
            if missing:
                raise HarnessError(f"the instruction-difficulty file has no value for instruction {missing[0]}",
                                   hint="give the file that matches this evaluation set")
            values = [difficulty[str(r["index"])] for r in rows]
        lc, lc_se = length_controlled(prefs, [r["len_baseline"] for r in rows], [r["len_model"] for r in rows],
                                      values)
        glm = GLM_WITH_DIFFICULTY if values is not None else GLM_WITHOUT_DIFFICULTY
    return AlpacaEvalRow(model=model, baseline=baseline, **h2h, avg_length=avg_length,
                         length_controlled_winrate=lc, lc_standard_error=lc_se, lc_glm=glm)


def _oriented(battle: Battle, baseline: str) -> dict[str, Any]:
    """A battle as AlpacaEval sees it: the preference with the baseline as output_1, and the lengths."""
    extra = battle.extra or {}
    pref = extra.get("preference")
    if pref is None:  # a discrete battle: model_b better -> 2
        pref = {"model_a": 1.0, "model_b": 2.0}.get(battle.winner, 1.5)
    lengths = (extra.get("len_1"), extra.get("len_2"))
    if battle.model_b == baseline:  # the baseline shown second: mirror the preference (0 stays a draw)
        pref = 0.0 if float(pref) == 0 else 3.0 - float(pref)
        lengths = lengths[::-1]
    return {"preference": float(pref), "len_baseline": lengths[0], "len_model": lengths[1],
            "index": extra.get("index")}


def default_baseline(battles: Sequence[Battle]) -> str:
    """AlpacaEval's baseline is generator_1 (model_a): the one model every battle has on that side.

    Raises:
        HarnessError: battles with several first models (the user must name one).
    """
    firsts = sorted({b.model_a for b in battles})
    if len(firsts) != 1:
        raise HarnessError(f"no single baseline: battles have {len(firsts)} first models",
                           hint=f"pass --baseline (one of {', '.join(firsts[:8])})")
    return firsts[0]


def alpaca_eval_rows(battles: Sequence[Battle], baseline: str | None = None,
                     difficulty: dict[str, float] | None = None) -> list[AlpacaEvalRow]:
    """Every model that played `baseline` (default: see `default_baseline`), best win_rate first."""
    if not battles:
        return []
    base = baseline or default_baseline(battles)
    per_model: dict[str, list[dict[str, Any]]] = {}
    for b in battles:
        if base not in (b.model_a, b.model_b) or b.model_a == b.model_b:
            continue
        other = b.model_b if b.model_a == base else b.model_a
        per_model.setdefault(other, []).append(_oriented(b, base))
    rows = [alpaca_eval_row(model, base, items, difficulty) for model, items in per_model.items()]
    return sorted(rows, key=lambda r: (-r.win_rate, r.model))


def lc_method_note(with_difficulty: bool) -> str:
    """What the length-controlled column is, said in the output (the fallback stated when there is one)."""
    if with_difficulty:
        return (f"length-controlled win rate: AlpacaEval's {GLM_WITH_DIFFICULTY} GLM (length, instruction "
                "difficulty from the given file, model term); the published length_controlled_v1 also regularises "
                "toward gamed baselines (df_gamed.csv), which is not applied")
    return (f"length-controlled win rate: no --instruction-difficulty file, so AlpacaEval's {GLM_WITHOUT_DIFFICULTY} "
            "GLM (length and model terms only); published values (length_controlled_v1) also use the instruction "
            "difficulty and gamed baselines and will differ")
