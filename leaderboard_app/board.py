"""The leaderboard's tables: one row per model with task scores, an average, arena columns and rank ranges.

Pure pandas/numpy over the frames `harness.store.views` reads; `leaderboard_app.data` caches the results.
A rank range "2–4" means the model's 95% interval overlaps those of the models ranked 2 to 4: inside it,
the order is not statistically real.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

Z95 = 1.959964
ID_COLUMNS = ["model", "kind", "base model", "recipe", "params (M)", "created"]
ARENA_COLUMNS = ["arena (BT)", "arena CI low", "arena CI high", "arena rank", "Elo", "battles", "judge win rate"]


class Board(NamedTuple):
    """The full leaderboard before filters: the frame plus which metric each task column shows."""

    frame: pd.DataFrame
    tasks: list[str]
    metrics: dict[str, str]
    higher_is_better: dict[str, bool]
    has_subtasks: bool = False  # the store has subtask scores of groups (hidden unless asked for)


def display_names(models: pd.DataFrame) -> pd.Series:
    """Model id → the name shown; a name held by several fingerprints gets `@<8 hex>` appended."""
    if models.empty:
        return pd.Series(dtype=object)
    dup = models["name"].duplicated(keep=False)
    short = models["fingerprint"].astype(str).str.split(":").str[-1].str[:8]
    shown = models["name"].where(~dup, models["name"] + "@" + short)
    return pd.Series(shown.to_numpy(), index=models["id"].to_numpy())


def primary_metrics(scores: pd.DataFrame) -> pd.DataFrame:
    """Per task, the first metric lm-eval reported for it (with its filter and direction)."""
    first = scores.sort_values("id").drop_duplicates("task", keep="first")
    return first.set_index("task")[["metric", "filter", "higher_is_better"]]


def latest_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """For each model, task, metric and filter: the score of the newest run that has it."""
    ordered = scores.sort_values(["started_at", "id"])
    return ordered.drop_duplicates(["model_id", "task", "metric", "filter"], keep="last")


def model_win_rates(wins: pd.DataFrame) -> pd.DataFrame:
    """`read_win_counts` rows indexed by model, with win_rate = (wins + ties/2) / battles."""
    out = wins.set_index("model")[["battles", "wins", "ties"]].astype(float)
    out["win_rate"] = (out["wins"] + 0.5 * out["ties"]) / out["battles"]
    return out


def win_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """Battles, wins, ties and (wins + ties/2) / battles per model, from `read_battle_counts` rows."""
    if counts.empty:
        return pd.DataFrame(columns=["battles", "wins", "ties", "win_rate"], dtype=float)
    tie = counts["winner"].astype(str).str.startswith("tie")
    side_a = pd.DataFrame({"model": counts["model_a"], "n": counts["n"],
                           "win": counts["n"] * (counts["winner"] == "model_a"), "tie": counts["n"] * tie})
    side_b = pd.DataFrame({"model": counts["model_b"], "n": counts["n"],
                           "win": counts["n"] * (counts["winner"] == "model_b"), "tie": counts["n"] * tie})
    total = pd.concat([side_a, side_b]).groupby("model")[["n", "win", "tie"]].sum()
    out = pd.DataFrame({"battles": total["n"], "wins": total["win"], "ties": total["tie"]})
    out["win_rate"] = (out["wins"] + 0.5 * out["ties"]) / out["battles"]
    return out


def rank_ranges(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best and worst rank each entry can take given overlapping intervals (Chatbot Arena style).

    Best = 1 + the number of entries whose interval lies wholly above this one's; worst = the number of
    entries whose interval reaches this one's lower end. Entries with a NaN mean get NaN ranks; an entry
    without an interval is treated as a point.
    """
    mean = np.asarray(mean, dtype=float)
    ok = ~np.isnan(mean)
    low = np.where(np.isnan(low), mean, low)[ok]
    high = np.where(np.isnan(high), mean, high)[ok]
    best = np.full(mean.shape, np.nan)
    worst = np.full(mean.shape, np.nan)
    best[ok] = 1 + (low[None, :] > high[:, None]).sum(axis=1)
    worst[ok] = (high[None, :] >= low[:, None]).sum(axis=1)
    return best, worst


def format_ranks(best: np.ndarray, worst: np.ndarray) -> list[str]:
    """'3' for a settled rank, '2–5' for a range, '' where there is none."""
    labels = []
    for b, w in zip(best, worst):
        if np.isnan(b):
            labels.append("")
        else:
            labels.append(str(int(b)) if b == w else f"{int(b)}–{int(w)}")
    return labels


def one_row_per_fingerprint(models: pd.DataFrame, scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fold models a store made before aliases existed (one checkpoint stored by path and by name) into one row.

    Per fingerprint the row kept is the newest one registered under a chosen name (else the newest); the others'
    scores move to it.
    """
    if models.empty or not models["fingerprint"].duplicated().any():
        return models, scores
    chosen = models.assign(named=models["name"].astype(str) != models["source"].astype(str))
    chosen = chosen.sort_values(["named", "id"]).groupby("fingerprint")["id"].last()
    keep = models["fingerprint"].map(chosen)
    mapping = pd.Series(keep.to_numpy(), index=models["id"].to_numpy())
    scores = scores.assign(model_id=scores["model_id"].map(mapping).fillna(scores["model_id"]).astype(int))
    return models[models["id"].isin(chosen.to_numpy())], scores


def _base_names(models: pd.DataFrame, names: pd.Series) -> pd.Series:
    """The base model's stored name (found by the card's base fingerprint), else what the card says, else itself."""
    by_fingerprint = pd.Series(names.reindex(models["id"]).to_numpy(), index=models["fingerprint"].to_numpy())
    by_fingerprint = by_fingerprint[~by_fingerprint.index.duplicated(keep="last")]
    base_fp = models["card"].map(lambda c: c.get("base_fingerprint") if isinstance(c, dict) else None)
    stored = base_fp.map(by_fingerprint)
    return stored.where(stored.notna(), models["base_model"].where(models["base_model"].notna(), models["name"]))


def _model_columns(models: pd.DataFrame) -> pd.DataFrame:
    names = display_names(models)
    recipe = models["recipe"].where(models["recipe"].notna(), np.where(models["kind"] == "base", "base", "—"))
    base = _base_names(models, names)
    created = pd.to_datetime(models["created_at"], utc=True, errors="coerce")
    return pd.DataFrame({
        "model_id": models["id"].to_numpy(),
        "model": names.to_numpy(),
        "kind": models["kind"].to_numpy(),
        "base model": base.to_numpy(),
        "recipe": recipe.to_numpy(),
        "params (M)": pd.to_numeric(models["n_params"], errors="coerce").to_numpy() / 1e6,
        "created": created.to_numpy(),
    })


def _task_columns(scores: pd.DataFrame, primary: pd.DataFrame) -> pd.DataFrame:
    latest = latest_scores(scores)
    chosen = latest.merge(primary[["metric", "filter"]].reset_index(), on=["task", "metric", "filter"])
    values = chosen.pivot(index="model_id", columns="task", values="value")
    errors = chosen.pivot(index="model_id", columns="task", values="stderr")
    errors.columns = [f"{task} ±" for task in errors.columns]
    return values.join(errors).astype(float)


def _arena_columns(names: pd.Series, ratings: pd.DataFrame, wins: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=names.index)
    by_name = pd.Series(names.index, index=names.to_numpy())
    by_name = by_name[~by_name.index.duplicated(keep="last")]
    bt = ratings[ratings["method"] == "bt"].drop_duplicates("model").set_index("model")
    elo = ratings[ratings["method"] == "elo"].drop_duplicates("model").set_index("model")
    for column, source, field in (("arena (BT)", bt, "rating"), ("arena CI low", bt, "ci_low"),
                                  ("arena CI high", bt, "ci_high"), ("Elo", elo, "rating"),
                                  ("battles", wins, "battles"), ("judge win rate", wins, "win_rate")):
        series = pd.to_numeric(source[field], errors="coerce") if field in source else pd.Series(dtype=float)
        series = series[series.index.isin(by_name.index)]
        out[column] = pd.Series(series.to_numpy(), index=by_name[series.index].to_numpy())
    if bt.empty or bt["rank_low"].isna().all():
        best, worst = rank_ranges(out["arena (BT)"].to_numpy(), out["arena CI low"].to_numpy(),
                                  out["arena CI high"].to_numpy())
    else:
        ranks = bt[bt.index.isin(by_name.index)]
        best = pd.Series(ranks["rank_low"].to_numpy(float), index=by_name[ranks.index].to_numpy()).reindex(out.index)
        worst = pd.Series(ranks["rank_high"].to_numpy(float), index=by_name[ranks.index].to_numpy()).reindex(out.index)
        best, worst = best.to_numpy(), worst.to_numpy()
    out["arena rank"] = format_ranks(best, worst)
    return out


def _higher(flag: object) -> bool:
    """Unknown direction counts as higher-is-better (lm-eval's default)."""
    return bool(pd.isna(flag) or flag)  # type: ignore[arg-type]


def build_board(models: pd.DataFrame, scores: pd.DataFrame, wins: pd.DataFrame,
                ratings: pd.DataFrame, subtasks: bool = False) -> Board:
    """Join models, their newest primary scores, stored ratings and battle win rates into one frame.

    `wins` is `read_win_counts` (per model battles, wins and ties). Task columns are the tasks runs asked
    for (a group shows its own aggregate); `subtasks=True` adds a column per subtask of every group.
    """
    if models.empty:
        return Board(pd.DataFrame(columns=["model_id", *ID_COLUMNS, *ARENA_COLUMNS]), [], {}, {})
    models, scores = one_row_per_fingerprint(models, scores)
    has_subtasks = "top_level" in scores and not scores["top_level"].all()
    if has_subtasks and not subtasks and scores["top_level"].any():
        scores = scores[scores["top_level"]]
    primary = primary_metrics(scores) if not scores.empty else pd.DataFrame(
        columns=["metric", "filter", "higher_is_better"])
    frame = _model_columns(models).set_index("model_id", drop=False)
    if not scores.empty:
        frame = frame.join(_task_columns(scores, primary))
    frame = frame.join(_arena_columns(display_names(models), ratings, model_win_rates(wins)))
    tasks = sorted(primary.index)
    metrics = {t: f"{primary.at[t, 'metric']}" + ("" if primary.at[t, "filter"] == "none"
                                                  else f" ({primary.at[t, 'filter']})") for t in tasks}
    higher = {t: _higher(primary.at[t, "higher_is_better"]) for t in tasks}
    return Board(frame.reset_index(drop=True), tasks, metrics, higher, bool(has_subtasks))


def rank_board(board: Board, tasks: Sequence[str]) -> pd.DataFrame:
    """Average the chosen tasks (higher-is-better ones only), add its 95% CI and rank ranges, sort by it.

    The CI treats tasks as independent: se(avg) = sqrt(sum se_t^2) / k. A model missing a chosen task has
    no average (and no rank): averages over different task sets are not comparable.
    """
    frame = board.frame.copy()
    averaged = [t for t in tasks if board.higher_is_better.get(t, True) and t in frame]
    if averaged:
        values = frame[averaged].to_numpy(dtype=float)
        errors = frame[[f"{t} ±" for t in averaged]].to_numpy(dtype=float)
        mean = values.mean(axis=1)
        half = Z95 * np.sqrt((errors ** 2).sum(axis=1)) / len(averaged)
    else:
        mean = half = np.full(len(frame), np.nan)
    best, worst = rank_ranges(mean, mean - half, mean + half)
    frame.insert(1, "rank", format_ranks(best, worst))
    frame.insert(2, "average", mean)
    frame.insert(3, "± 95%", half)
    frame["_order"] = best
    frame = frame.sort_values(["average", "arena (BT)", "model"], ascending=[False, False, True],
                              na_position="last", kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


def table_height(rows: int, most: int = 25) -> int:
    """Pixels for a dataframe that shows up to `most` rows without scrolling (35 px a row plus the header)."""
    return 38 + 35 * max(1, min(rows, most))


def pair_win_matrix(counts: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Observed (wins + ties/2) / battles of row model against column model, long form with counts."""
    tie = counts["winner"].astype(str).str.startswith("tie")
    a = pd.DataFrame({"model": counts["model_a"], "opponent": counts["model_b"], "n": counts["n"],
                      "score": counts["n"] * ((counts["winner"] == "model_a") + 0.5 * tie)})
    b = pd.DataFrame({"model": counts["model_b"], "opponent": counts["model_a"], "n": counts["n"],
                      "score": counts["n"] * ((counts["winner"] == "model_b") + 0.5 * tie)})
    both = pd.concat([a, b])
    both = both[both["model"].isin(names) & both["opponent"].isin(names)]
    grouped = both.groupby(["model", "opponent"], as_index=False)[["n", "score"]].sum()
    grouped["win_rate"] = grouped["score"] / grouped["n"]
    return grouped[["model", "opponent", "win_rate", "n"]]


def predicted_win_matrix(ratings: pd.Series) -> pd.DataFrame:
    """P(row beats column) = 1 / (1 + 10^((R_col - R_row) / 400)) from Elo-scaled ratings, long form."""
    names = list(ratings.index)
    r = ratings.to_numpy(dtype=float)
    prob = 1.0 / (1.0 + 10 ** ((r[None, :] - r[:, None]) / 400.0))
    rows = [(names[i], names[j], prob[i, j]) for i in range(len(names)) for j in range(len(names)) if i != j]
    return pd.DataFrame(rows, columns=["model", "opponent", "win_rate"])


def category_win_rates(wins: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Win rate per model and question category (rows: `names` that battled, columns: categories).

    `wins` is `read_win_counts(by_category=True)`; battles without a category are left out.
    """
    known = wins[wins["category"].notna()]
    if known.empty:
        return pd.DataFrame()
    rate = (known["wins"] + 0.5 * known["ties"]) / known["battles"]
    table = known.assign(win_rate=rate).pivot(index="model", columns="category", values="win_rate")
    table.columns = [str(c) for c in table.columns]
    return table.reindex([n for n in names if n in table.index])


class Filters(NamedTuple):
    """The leaderboard page's filters; an empty selection means 'all'."""

    search: str = ""
    bases: tuple[str, ...] = ()
    recipes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    size_m: tuple[float, float] | None = None
    created: tuple[object, object] | None = None


def apply_filters(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """Rows of the board that pass every filter (search is a case-insensitive substring of the name)."""
    keep = pd.Series(True, index=frame.index)
    if filters.search.strip():
        keep &= frame["model"].astype(str).str.contains(filters.search.strip(), case=False, regex=False)
    for column, chosen in (("base model", filters.bases), ("recipe", filters.recipes), ("kind", filters.kinds)):
        if chosen:
            keep &= frame[column].isin(chosen)
    if filters.size_m is not None:
        low, high = filters.size_m
        size = frame["params (M)"]
        keep &= size.isna() | size.between(low, high)
    if filters.created is not None:
        start, end = (pd.Timestamp(d) for d in filters.created)
        day = frame["created"].dt.tz_localize(None).dt.normalize()
        keep &= day.isna() | ((day >= start) & (day <= end))
    return frame[keep]
