"""Published rows on the leaderboard: the pure row building (leaderboard_app.published) and the page's
computed / published / both and hide-empty filters, driven with AppTest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from harness.publish.imports import import_published
from harness.records import ModelRecord, Score, TaskResult
from harness.store import open_store
from harness.store.runs import create_run, finish_run, upsert_model, write_task_result
from leaderboard_app.board import Board
from leaderboard_app.published import (
    FILLED,
    FILLED_AVG,
    add_filled_average,
    board_column,
    hide_empty,
    published_cells,
    with_published,
)
from tests import published_files
from tests.test_leaderboard import APP, fill


def _cells(rows: list[tuple[str, str, str | None, str | None, float, str | None]]) -> pd.DataFrame:
    """(model, benchmark, task, metric, value, source_date) rows in the store frame's shape."""
    return pd.DataFrame([{"id": k, "model": m, "benchmark": b, "task": t, "metric": me, "value": v, "stderr": None,
                          "leaderboard": "t", "source_url": f"https://x/{k}", "source_file": "f.csv",
                          "source_date": d} for k, (m, b, t, me, v, d) in enumerate(rows, start=1)])


def test_a_published_cell_shares_a_task_column_only_with_the_same_metric() -> None:
    metrics = {"mmlu": "acc", "hellaswag": "acc", "gsm8k": "exact_match (strict-match)"}
    assert board_column("mmlu", "acc", "mmlu", metrics) == "mmlu"
    assert board_column("hellaswag", "acc_norm", "hellaswag", metrics) == "hellaswag (acc_norm)"
    assert board_column("gsm8k", "exact_match", "gsm8k", metrics) == "gsm8k"
    assert board_column("winogrande", "acc", "winogrande", metrics) == "winogrande"  # not in the store: its own
    assert board_column(None, None, "Arena Elo", metrics) == "Arena Elo"


def test_cells_merge_names_without_case_and_the_newest_dated_source_wins() -> None:
    frame = _cells([("vicuna-13b", "Arena Elo", None, None, 1169.0, None),
                    ("Vicuna-13B", "Arena Elo", None, None, 1061.0, "2023-06-22"),
                    ("Vicuna-13B", "MT-bench", None, None, 6.39, "2023-06-22")])
    cells = published_cells(frame, {})
    assert sorted(zip(cells["row"], cells["column"], cells["value"])) == [
        ("vicuna-13b", "Arena Elo", 1061.0), ("vicuna-13b", "MT-bench", 6.39)]


def test_with_published_adds_one_row_per_model_beside_the_computed_ones() -> None:
    computed = pd.DataFrame({"model_id": [1], "model": ["mine"], "kind": ["full"], "mmlu": [0.30], "mmlu ±": [0.01],
                             "created": pd.to_datetime(["2026-01-01"], utc=True), "params (M)": [1.0]})
    board = Board(computed, ["mmlu"], {"mmlu": "acc"}, {"mmlu": True})
    frame = _cells([("llama-65b", "mmlu", "mmlu", "acc", 0.634, None),
                    ("llama-65b", "HellaSwag (zero-shot)", None, None, 0.842, None),
                    ("gpt-4", "Arena Elo", None, None, 1227.0, None)])
    published = with_published(board, frame)
    rows = published.board.frame.set_index("model")
    assert list(rows["origin"]) == ["computed", "published", "published"]
    assert rows.loc["llama-65b", "mmlu"] == 0.634 and rows.loc["mine", "mmlu"] == 0.30  # the same column
    assert published.columns == ["Arena Elo", "HellaSwag (zero-shot)"]
    assert rows.loc["llama-65b", "source"] == "https://x/1" and pd.isna(rows.loc["mine", "source"])
    filled = add_filled_average(published.board.frame, ["mmlu", *published.columns]).set_index("model")
    assert filled.loc["llama-65b", FILLED_AVG] == pytest.approx((0.634 + 0.842) / 2)  # Elo is not a 0-1 scale
    assert filled.loc["llama-65b", FILLED] == "2/2" and filled.loc["mine", FILLED] == "1/2"
    assert np.isnan(filled.loc["gpt-4", FILLED_AVG])


def test_hide_empty_drops_unfilled_columns_and_published_rows_left_without_values() -> None:
    frame = pd.DataFrame({"model": ["mine", "p1", "p2"], "origin": ["computed", "published", "published"],
                          "a": [0.5, np.nan, np.nan], "b": [np.nan, 0.7, np.nan], "c": [np.nan] * 3})
    rows, columns = hide_empty(frame, ["model", "a", "b", "c"], ["a", "b", "c"])
    assert columns == ["model", "a", "b"] and list(rows["model"]) == ["mine", "p1"]
    only_c, kept = hide_empty(frame, ["model", "c"], ["c"])
    assert kept == ["model"] and list(only_c["model"]) == ["mine"]  # computed rows stay


def _page(store: str, tmp_path: Path) -> AppTest:
    fill(store)
    for write in (published_files.llm_leaderboard, published_files.lmsys_csv):
        import_published(write(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_shows_published_rows_with_sources_and_filters_them(store_url: str, tmp_path: Path) -> None:
    at = _page(store_url, tmp_path)
    df = at.dataframe[0].value.set_index("model")
    assert list(df.index[:4]) == ["alpaca-full", "vicuna-lora", "alpaca-lora", "tiny-base"]  # computed, ranked
    assert set(df.loc[df["origin"] == "published"].index) == {"vicuna-13b", "llama-65b", "gpt-4", "Vicuna-33B"}
    assert df.loc["vicuna-13b", "Arena Elo"] == 1061 and df.loc["vicuna-13b", "MT-bench"] == 6.39
    assert df.loc["gpt-4", "mmlu"] == pytest.approx(0.864) and df.loc["llama-65b", "source"].startswith("https://")
    assert pd.isna(df.loc["gpt-4", "details"]) and df.loc["tiny-base", "details"] == "model?model=tiny-base"
    sources = at.dataframe[1].value
    assert "https://lmsys.org/blog/arena/" not in set(sources["source_url"])  # vicuna-13b's Elo: the newer wins
    assert "https://arxiv.org/abs/2302.13971" in set(sources["source_url"])
    at.radio(key="lb_origin").set_value("published").run()
    published = at.dataframe[0].value
    assert set(published["origin"]) == {"published"} and "arith_mc" not in published  # empty: hidden
    at.radio(key="lb_origin").set_value("computed").run()
    computed = at.dataframe[0].value
    assert list(computed["model"]) == ["alpaca-full", "vicuna-lora", "alpaca-lora", "tiny-base"]
    assert "MT-bench" not in computed and "Arena Elo" not in computed
    at.toggle(key="lb_hide_empty").set_value(False).run()
    assert {"MT-bench", "Arena Elo", "mmlu"} <= set(at.dataframe[0].value.columns)


def test_published_values_share_the_column_of_a_task_the_store_computed(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url)
    model_id = upsert_model(store, ModelRecord(name="my-vicuna", source="ckpt/my-vicuna", fingerprint="sha256:v"))
    run_id = create_run(store, model_id, {"suite": "open_llm_v1", "tasks": [{"task": "mmlu"}], "config": {},
                                          "config_hash": "h", "backend": "hf", "versions": {}})
    write_task_result(store, run_id, TaskResult(task="mmlu", task_hash="t", eval_key="k", num_fewshot=5, samples=[],
                                                scores=[Score(task="mmlu", metric="acc", filter="none", value=0.47,
                                                              stderr=0.004, n=14042, higher_is_better=True)]))
    finish_run(store, run_id, "finished")
    import_published(published_files.lmsys_csv(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    df = at.dataframe[0].value.set_index("model")
    assert df.loc["my-vicuna", "mmlu"] == pytest.approx(0.47) and df.loc["Vicuna-13B", "mmlu"] == pytest.approx(0.521)
    assert df.loc["Vicuna-13B", "average"] == pytest.approx(0.521)  # it has every chosen task: ranked beside
    assert set(at.multiselect(key="lb_published_cols:2").options) == {"Arena Elo", "MT-bench"}
    assert list(df.index[:2]) == ["GPT-4", "Vicuna-33B"]  # 0.864 and 0.592 above 0.521 and 0.47


def test_a_store_with_only_published_results_shows_them(tmp_path: Path) -> None:
    import_published(published_files.llm_leaderboard(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    df = at.dataframe[0].value
    assert list(df["origin"]) == ["published"] * 3 and "3 of 3 models" in at.caption[0].value
