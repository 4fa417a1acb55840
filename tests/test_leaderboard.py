"""The Streamlit leaderboard, driven page by page with AppTest against a store each test fills."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from harness.records import Battle, ModelRecord, SampleRecord, Score, TaskResult
from harness.store import open_store
from harness.store.battles import write_battles
from harness.store.runs import create_run, finish_run, upsert_model, write_task_result
from harness.store.schema import generations, judgments, ratings

APP = str(Path(__file__).resolve().parent.parent / "leaderboard_app" / "app.py")
PAGES = ["pages/leaderboard.py", "pages/arena.py", "pages/model.py", "pages/compare.py", "pages/runs.py"]

# name: (kind, base, recipe, n_params, {task: (value, stderr)})
MODELS = {
    "alpaca-full": ("full", "tiny-base", "alpaca", 960_000, {"arith_mc": (0.90, 0.01), "arith_gen": (0.80, 0.01)}),
    "vicuna-lora": ("lora", "tiny-base", "vicuna", 960_000, {"arith_mc": (0.62, 0.02), "arith_gen": (0.58, 0.02)}),
    "alpaca-lora": ("lora", "tiny-small", "alpaca", 310_000, {"arith_mc": (0.60, 0.02), "arith_gen": (0.56, 0.02)}),
    "tiny-base": ("base", None, None, 960_000, {"arith_mc": (0.25, 0.01), "arith_gen": (0.05, 0.01)}),
}
# Per-document outcomes on arith_mc for the two models the Compare page pairs: 60 docs, A right on 54,
# B right on 36, every B-right doc also A-right → 18 discordant pairs all for A: McNemar p = 2 * 0.5^18.
A_RIGHT = np.array([1] * 54 + [0] * 6)
B_RIGHT = np.array([1] * 36 + [0] * 24)


def _task(task: str, metric: str, value: float, stderr: float, outcomes: np.ndarray | None) -> TaskResult:
    samples = [] if outcomes is None else [
        SampleRecord(task=task, doc_id=doc, filter="none", doc_hash=f"h{doc}", prompt_hash=None, target_hash=None, prompt=f"What is {doc}+{doc}?", target=str(2 * doc),
                     prediction=str(2 * doc if ok else 2 * doc + 1), metrics={metric: float(ok)})
        for doc, ok in enumerate(outcomes)]
    return TaskResult(task=task, task_hash="sha256:t", eval_key=f"key-{task}-{value}", num_fewshot=0,
                      scores=[Score(task=task, metric=metric, filter="none", value=value, stderr=stderr, n=60, higher_is_better=True)], samples=samples)


def fill(url: str) -> dict[str, str]:
    """Four models, two tasks, a failed run, battles, stored ratings, answers and judgments; returns run ids."""
    store = open_store(url)
    run_ids = {}
    for name, (kind, base, recipe, size, tasks) in MODELS.items():
        model_id = upsert_model(store, ModelRecord(name=name, source=f"ckpt/{name}", fingerprint=f"sha256:{name}", kind=kind, base_model=base, recipe=recipe,
                                                   n_params=size, card={"recipe": recipe, "data": "arith"} if recipe else {}))
        run_id = create_run(store, model_id, {"suite": "smoke", "tasks": [{"task": t} for t in tasks], "config": {},
                                              "config_hash": "h", "backend": "hf", "chat_template": recipe,
                                              "versions": {"lm_eval": "0.4.13"}, "git_revision": "abc"})
        for task, (value, stderr) in tasks.items():
            metric = "acc" if task == "arith_mc" else "exact_match"
            outcomes = {"alpaca-full": A_RIGHT, "vicuna-lora": B_RIGHT}.get(name) if task == "arith_mc" else None
            write_task_result(store, run_id, _task(task, metric, value, stderr, outcomes))
        finish_run(store, run_id, "finished")
        run_ids[name] = run_id
    failed = create_run(store, 4, {"suite": "smoke", "tasks": [], "config": {}, "config_hash": "h", "backend": "hf",
                                   "versions": {}})
    finish_run(store, failed, "failed", "RunFailed: lm-eval returned no results\ntraceback")
    run_ids["failed"] = failed
    _fill_arena(store)
    return run_ids


def _fill_arena(store: object) -> None:
    items = [Battle(model_a="alpaca-full", model_b="vicuna-lora", winner="model_a", category="math")] * 6
    items += [Battle(model_a="alpaca-full", model_b="vicuna-lora", winner="model_b", category="writing")] * 2
    items += [Battle(model_a="vicuna-lora", model_b="tiny-base", winner="model_a", category="math")] * 5
    items += [Battle(model_a="vicuna-lora", model_b="tiny-base", winner="tie", category="math")] * 2
    write_battles(store, items)
    bt = [("alpaca-full", 1100, 1060, 1140, 1, 1), ("vicuna-lora", 1000, 960, 1040, 2, 2),
          ("tiny-base", 900, 850, 990, 3, 3)]
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.insert(ratings), [
            {"battle_set": "s1", "method": "bt", "model": m, "rating": r, "ci_low": lo, "ci_high": hi,
             "rank_low": rl, "rank_high": rh, "n_battles": 8} for m, r, lo, hi, rl, rh in bt] + [
            {"battle_set": "s1", "method": "elo", "model": m, "rating": r + 5, "ci_low": None, "ci_high": None,
             "rank_low": None, "rank_high": None, "n_battles": 8} for m, r, *_ in bt])
        conn.execute(sa.insert(generations), [
            {"gen_key": f"g-{m}", "model": m, "model_fingerprint": "x", "question_set": "mt", "question_id": "q1",
             "turns": [f"{m} says the answer is {n}"], "config": {}} for m, n in (("alpaca-full", 42),
                                                                             ("vicuna-lora", 41))])
        conn.execute(sa.insert(judgments), [
            {"cache_key": f"j-{order}", "judge": "gpt-judge", "prompt_name": "pair", "prompt_hash": "p",
             "mode": "pairwise", "question_set": "mt", "question_id": "q1", "turn": 1, "model_a": "alpaca-full",
             "model_b": "vicuna-lora", "answer_order": order, "status": "ok", "verdict": verdict,
             "raw_output": f"rationale {order}: the first/second answer is right [[{verdict}]]"}
            for order, verdict in (("ab", "A"), ("ba", "B"))])


def open_page(page: str | None = None, store: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def filled(store_url: str) -> dict[str, str]:
    return fill(store_url)


def table(at: AppTest, index: int = 0) -> pd.DataFrame:
    return at.dataframe[index].value


def test_leaderboard_rows_values_order_and_rank_ranges(filled: dict[str, str]) -> None:
    at = open_page()
    df = table(at)
    assert list(df["model"]) == ["alpaca-full", "vicuna-lora", "alpaca-lora", "tiny-base"]
    assert df.loc[0, "average"] == pytest.approx(0.85)
    assert df.loc[0, "arith_mc"] == pytest.approx(0.90) and df.loc[0, "arith_mc ±"] == pytest.approx(0.01)
    half = 1.959964 * np.sqrt(0.02**2 + 0.02**2) / 2
    assert df.loc[1, "± 95%"] == pytest.approx(half)
    # vicuna-lora (0.60) and alpaca-lora (0.58) overlap: neither order is real; the others are settled.
    assert list(df["rank"]) == ["1", "2–3", "2–3", "4"]
    assert df.loc[0, "arena (BT)"] == 1100 and df.loc[0, "arena rank"] == "1"
    assert df.loc[0, "battles"] == 8 and df.loc[0, "judge win rate"] == pytest.approx(6 / 8)
    assert pd.isna(df.loc[2, "arena (BT)"])  # alpaca-lora never battled
    assert df.loc[1, "details"] == "model?model=vicuna-lora"


def test_leaderboard_filters_search_and_sort_narrow_rows(filled: dict[str, str]) -> None:
    at = open_page()
    at.text_input(key="lb_search").input("lora").run()
    assert set(table(at)["model"]) == {"vicuna-lora", "alpaca-lora"}
    at.text_input(key="lb_search").input("").run()
    at.multiselect(key="lb_recipe").select("alpaca").run()
    assert set(table(at)["model"]) == {"alpaca-full", "alpaca-lora"}
    at.multiselect(key="lb_kind").select("lora").run()
    assert list(table(at)["model"]) == ["alpaca-lora"]
    at.multiselect(key="lb_recipe").unselect("alpaca").run()
    at.multiselect(key="lb_kind").unselect("lora").run()
    at.multiselect(key="lb_base").select("tiny-small").run()
    assert list(table(at)["model"]) == ["alpaca-lora"]
    at.multiselect(key="lb_base").unselect("tiny-small").run()
    at.slider[0].set_value((0.5, 0.96)).run()
    assert "alpaca-lora" not in set(table(at)["model"]) and len(table(at)) == 3
    at.slider[0].set_value((0.31, 0.96)).run()
    at.selectbox(key="lb_sort").select("model").run()
    at.toggle(key="lb_desc").set_value(False).run()
    assert list(table(at)["model"]) == sorted(MODELS)


def test_leaderboard_average_follows_chosen_tasks_and_stderr_toggle(filled: dict[str, str]) -> None:
    at = open_page()
    at.multiselect[-1].unselect("arith_gen").run()  # "Tasks in the average"
    df = table(at)
    assert df.loc[df["model"] == "tiny-base", "average"].item() == pytest.approx(0.25)
    at.toggle(key="lb_stderr").set_value(False).run()
    assert "arith_mc ±" not in table(at).columns and "arith_mc" in table(at).columns


def test_arena_page_ratings_heatmaps_and_categories(filled: dict[str, str]) -> None:
    at = open_page("pages/arena.py")
    ratings_df = table(at, 0)
    assert list(ratings_df["model"]) == ["alpaca-full", "vicuna-lora", "tiny-base"]
    assert list(ratings_df["rank"]) == ["1", "2", "3"]
    assert list(ratings_df["Elo"]) == [1105, 1005, 905]
    assert list(ratings_df["battles"]) == [8, 15, 7]
    assert "BT style-controlled" not in ratings_df  # only when such a fit is stored
    assert ratings_df.loc[2, "win rate"] == pytest.approx(1 / 7)  # two ties out of seven
    charts = at.get("vega_lite_chart")
    assert len(charts) == 3  # whisker plot, predicted and observed heatmaps
    categories = table(at, 1).set_index("model")
    assert categories.loc["alpaca-full", "math"] == 1.0 and categories.loc["alpaca-full", "writing"] == 0.0


def test_arena_page_without_stored_ratings_fits_them_beside_observed_win_rates(store_url: str) -> None:
    store = open_store(store_url)
    upsert_model(store, ModelRecord(name="m1", source="m1", fingerprint="f1"))
    write_battles(store, [Battle(model_a="m1", model_b="m2", winner="model_a")] * 3 + [Battle(model_a="m1", model_b="m2", winner="model_b")])
    at = open_page("pages/arena.py")
    assert any("No ratings stored: Bradley-Terry and Elo fitted here" in c.value for c in at.caption)
    df = table(at, 0)
    assert list(df["model"]) == ["m1", "m2"] and df.loc[0, "win rate"] == pytest.approx(0.75)
    assert df["BT rating"].notna().all()


def test_model_page_opens_on_the_linked_model(filled: dict[str, str]) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/model.py")
    at.query_params["model"] = "vicuna-lora"
    at.run()
    assert not at.exception and at.selectbox(key="model_name").value == "vicuna-lora"
    at.query_params.clear()
    fresh = open_page("pages/model.py")
    assert fresh.selectbox(key="model_name").value == "alpaca-full"  # the leaderboard's first by default


def test_model_page_card_scores_and_wrong_answers(filled: dict[str, str]) -> None:
    at = open_page("pages/model.py")
    at.selectbox(key="model_name").select("alpaca-full").run()
    text = " ".join(m.value for m in at.markdown)
    assert "sha256:alpaca-full" in text and "ckpt/alpaca-full" in text
    assert [m.value for m in at.metric][:3] == ["full", "tiny-base", "alpaca"]
    scores = table(at, 0)
    assert scores[["arith_mc", "arith_gen"]].iloc[0].tolist() == [0.90, 0.80]
    at.selectbox(key="model_task").select("arith_mc").run()
    assert len(table(at, 1)) == 60
    at.checkbox(key="model_wrong").check().run()
    wrong = table(at, 1)
    assert len(wrong) == 6 and (wrong["acc"] == 0).all() and (wrong["prediction"] != wrong["target"]).all()
    at.text_input(key="model_search").input("What is 59+").run()
    assert list(table(at, 1)["doc_id"]) == [59]


def test_compare_page_paired_verdicts_answers_and_judge_orders(filled: dict[str, str]) -> None:
    at = open_page("pages/compare.py")
    assert at.selectbox(key="cmp_a").value == "alpaca-full" and at.selectbox(key="cmp_b").value == "vicuna-lora"
    verdicts = table(at, 0).set_index("task")
    assert verdicts.loc["arith_mc", "test"] == "mcnemar-exact"
    assert verdicts.loc["arith_mc", "p"] == pytest.approx(2 * 0.5**18)
    assert verdicts.loc["arith_mc", "A − B"] == pytest.approx(0.3)
    assert verdicts.loc["arith_mc", "verdict"] == "alpaca-full better"
    answers = [m.value for m in at.markdown]
    assert "alpaca-full says the answer is 42" in answers and "vicuna-lora says the answer is 41" in answers
    judged = table(at, 1)
    assert list(judged["answer_order"]) == ["ab", "ba"]
    assert list(judged["shown_first"]) == ["alpaca-full", "vicuna-lora"]
    assert list(judged["winner"]) == ["alpaca-full", "alpaca-full"]  # same winner in both orders
    assert [m.value for m in at.metric][:3] == ["6", "2", "0"]
    differ = table(at, 2)
    assert len(differ) == 18 and (differ["acc A"] == 1).all()


def test_compare_page_swapped_models_and_no_shared_samples(filled: dict[str, str]) -> None:
    at = open_page("pages/compare.py")
    at.selectbox(key="cmp_a").select("vicuna-lora").run()
    at.selectbox(key="cmp_b").select("alpaca-full").run()
    assert table(at, 0).set_index("task").loc["arith_mc", "verdict"] == "alpaca-full better"
    at.selectbox(key="cmp_b").select("tiny-base").run()
    assert any("no paired test" in i.value for i in at.info)
    at.selectbox(key="cmp_b").select("vicuna-lora").run()
    assert any("two different models" in w.value for w in at.warning)


def test_runs_page_status_errors_and_filters(filled: dict[str, str]) -> None:
    at = open_page("pages/runs.py")
    df = table(at, 0)
    assert len(df) == 5 and set(df["status"]) == {"finished", "failed"}
    assert df.loc[df["status"] == "failed", "error"].item() == "RunFailed: lm-eval returned no results"
    at.multiselect(key="runs_status").select("failed").run()
    assert list(table(at, 0)["id"]) == [filled["failed"]]
    assert any("RunFailed" in e.value for e in at.error)
    at.multiselect(key="runs_status").unselect("failed").run()
    at.selectbox(key="runs_pick").select(filled["alpaca-full"]).run()
    assert list(table(at, 1)["task"]) == ["arith_mc", "arith_gen"]


@pytest.mark.parametrize("page", PAGES)
def test_empty_store_shows_empty_state(store_url: str, page: str) -> None:
    open_store(store_url)  # migrated, no rows
    at = open_page(page)
    assert at.info, f"{page} shows no empty state"
    assert not at.dataframe


def test_missing_store_is_an_error_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_STORE", str(tmp_path / "nowhere.db"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and "no store at" in at.error[0].value


def test_new_rows_show_up_without_restart(filled: dict[str, str], store_url: str) -> None:
    at = open_page()
    assert len(table(at)) == 4
    upsert_model(open_store(store_url), ModelRecord(name="newcomer", source="x", fingerprint="sha256:new"))
    at.run()
    assert "newcomer" in set(table(at)["model"])


def test_models_without_scores_and_lower_is_better_tasks(store_url: str) -> None:
    store = open_store(store_url)
    upsert_model(store, ModelRecord(name="unscored", source="u", fingerprint="sha256:u"))
    for name, acc, ppl in (("good", 0.8, 12.0), ("bad", 0.4, 30.0)):
        model_id = upsert_model(store, ModelRecord(name=name, source=name, fingerprint=f"sha256:{name}", kind="full", base_model="b", recipe="alpaca"))
        run_id = create_run(store, model_id, {"tasks": [], "config": {}, "config_hash": "h", "backend": "hf",
                                              "versions": {}})
        write_task_result(store, run_id, TaskResult(task="qa", task_hash="h", eval_key=f"k-qa-{name}", num_fewshot=0,
                                                    scores=[Score(task="qa", metric="acc", filter="none", value=acc, stderr=0.01, n=100, higher_is_better=True)], samples=[]))
        write_task_result(store, run_id, TaskResult(task="wikitext", task_hash="h", eval_key=f"k-wt-{name}", num_fewshot=0, scores=[
            Score(task="wikitext", metric="word_perplexity", filter="none", value=ppl, stderr=None, n=100, higher_is_better=False)], samples=[]))
    at = open_page()
    df = table(at)
    assert list(df["model"]) == ["good", "bad", "unscored"]
    assert list(df["average"].iloc[:2]) == [0.8, 0.4]  # perplexity is shown but not averaged
    assert list(df["wikitext"].iloc[:2]) == [12.0, 30.0] and pd.isna(df.loc[2, "average"])
    assert list(df["rank"]) == ["1", "2", ""]
    assert any("arena columns appear" in c.value for c in at.caption)
    at.switch_page("pages/model.py").run()
    at.selectbox(key="model_name").select("unscored").run()
    assert not at.exception and any("No scores for unscored" in i.value for i in at.info)
    assert any("No per-sample records" in i.value for i in at.info)
    at.switch_page("pages/compare.py").run()
    at.selectbox(key="cmp_b").select("unscored").run()
    assert not at.exception and any("no paired test" in i.value for i in at.info)


def test_arena_per_category_ratings(filled: dict[str, str]) -> None:
    pytest.importorskip("harness.arena.ratings")
    at = open_page("pages/arena.py")
    charts = len(at.get("vega_lite_chart"))
    at.selectbox(key="arena_cat").select("math").run()
    assert not at.exception and len(at.get("vega_lite_chart")) == charts + 1
    assert any("math battles only" in c.value for c in at.caption)


def test_every_page_leaves_the_store_file_untouched(filled: dict[str, str], store_url: str) -> None:
    import gc
    import hashlib
    import sqlite3

    path = Path(store_url.removeprefix("sqlite:///"))
    gc.collect()  # close fill()'s writer now: its WAL checkpoint on close is not a page's write
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")  # a write in WAL mode lands here before any checkpoint

    def digest() -> str:
        return hashlib.sha256(path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")).hexdigest()

    before = digest()
    at = open_page()
    at.sidebar.button[0].click().run()  # Refresh: clears the caches and reads again
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, page
    assert digest() == before


def test_groups_show_their_aggregate_and_subtasks_on_request(store_url: str) -> None:
    store = open_store(store_url)
    model_id = upsert_model(store, ModelRecord(name="m", source="m", fingerprint="sha256:m"))
    run_id = create_run(store, model_id, {"tasks": [], "config": {}, "config_hash": "h", "backend": "hf",
                                          "versions": {}})
    group = [Score(task="mini_mmlu", metric="acc", filter="none", value=0.5, stderr=0.02, n=200, higher_is_better=True),
             Score(task="mini_mmlu_math", metric="acc", filter="none", value=0.4, stderr=0.03, n=100, higher_is_better=True),
             Score(task="mini_mmlu_law", metric="acc", filter="none", value=0.6, stderr=0.03, n=100, higher_is_better=True)]
    write_task_result(store, run_id, TaskResult(task="mini_mmlu", task_hash="h", eval_key="k-g", num_fewshot=0, scores=group, samples=[]))
    write_task_result(store, run_id, _task("arith_mc", "acc", 0.9, 0.01, None))
    at = open_page()
    df = table(at)
    assert "mini_mmlu" in df and "mini_mmlu_math" not in df  # the group's own score, not its parts
    assert df.loc[0, "average"] == pytest.approx((0.5 + 0.9) / 2)  # subtasks do not count twice
    at.toggle(key="lb_subtasks").set_value(True).run()
    assert {"mini_mmlu_math", "mini_mmlu_law"} <= set(table(at).columns)


def test_arena_page_fits_ratings_when_none_are_stored(store_url: str) -> None:
    store = open_store(store_url)
    upsert_model(store, ModelRecord(name="m1", source="m1", fingerprint="f1"))
    write_battles(store, [Battle(model_a="m1", model_b="m2", winner="model_a")] * 6 + [Battle(model_a="m1", model_b="m2", winner="model_b")] * 2)
    at = open_page("pages/arena.py")
    assert not any("No ratings stored" in w.value for w in at.warning)
    df = table(at, 0)
    assert list(df["model"]) == ["m1", "m2"] and df.loc[0, "BT rating"] > df.loc[1, "BT rating"]
    assert df["CI low"].notna().all() and len(at.get("vega_lite_chart")) >= 2


def test_arena_shows_a_stored_style_controlled_fit(filled: dict[str, str], store_url: str) -> None:
    with open_store(store_url).engine.begin() as conn:
        conn.execute(sa.insert(ratings), [
            {"battle_set": "s1", "method": "bt-controlled", "model": m, "rating": r, "ci_low": None,
             "ci_high": None, "rank_low": None, "rank_high": None, "n_battles": 8}
            for m, r in (("alpaca-full", 1050.0), ("vicuna-lora", 1020.0), ("tiny-base", 930.0))])
    df = table(open_page("pages/arena.py"), 0).set_index("model")
    assert df.loc["alpaca-full", "BT style-controlled"] == 1050.0 and df.loc["alpaca-full", "BT rating"] == 1100
