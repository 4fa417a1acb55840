"""Published leaderboards: each format's reader (real files where ../shared/data is present, small tables
written here otherwise), `harness published import|list`, and the records kept apart from computed scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import HarnessError
from harness.formats.published import PUBLISHED_FORMATS, detect_published_format, read_published
from harness.publish.imports import import_published
from harness.store import open_store
from harness.store.published import list_leaderboards
from harness.store.published import read_published as stored
from harness.store.schema import published_results, scores
from tests import published_files

runner = CliRunner()


@pytest.mark.parametrize("fmt", list(published_files.WRITERS))
def test_each_format_is_detected_and_read(tmp_path: Path, fmt: str) -> None:
    path = published_files.WRITERS[fmt](tmp_path)
    assert detect_published_format(path) == fmt
    table = read_published(path)
    assert table.format == fmt and table.results
    assert all(r.source_file == path.name and "/" not in r.source_file for r in table.results)
    assert len({r.result_key for r in table.results}) == len(table.results)
    assert list(PUBLISHED_FORMATS) == list(published_files.WRITERS)


def test_llm_leaderboard_cells_keep_their_own_links_and_skip_empty_ones(tmp_path: Path) -> None:
    table = read_published(published_files.llm_leaderboard(tmp_path))
    cells = {(r.model, r.benchmark): r for r in table.results}
    assert sorted(cells) == [("gpt-4", "mmlu"), ("llama-65b", "HellaSwag (zero-shot)"), ("llama-65b", "mmlu"),
                             ("vicuna-13b", "Arena Elo")]
    assert cells["vicuna-13b", "Arena Elo"].source_url == "https://lmsys.org/blog/arena/"
    assert cells["vicuna-13b", "Arena Elo"].task is None and cells["vicuna-13b", "Arena Elo"].value == 1169
    assert cells["llama-65b", "mmlu"].task == "mmlu" and cells["llama-65b", "mmlu"].value == pytest.approx(0.634)
    assert cells["gpt-4", "mmlu"].value == pytest.approx(0.864)  # printed 86.4 (percent) -> the task's fraction
    assert cells["gpt-4", "mmlu"].extra["printed"] == 86.4 and cells["gpt-4", "mmlu"].extra["publisher"] == "OpenAI"
    assert cells["llama-65b", "HellaSwag (zero-shot)"].task is None  # zero-shot is not the suite's 10-shot


def test_lmsys_csv_takes_date_and_post_from_the_file_name(tmp_path: Path) -> None:
    table = read_published(published_files.lmsys_csv(tmp_path))
    assert len(table.results) == 8  # 3 models x 3 numbers, one Arena Elo empty
    vicuna = {r.benchmark: r for r in table.results if r.model == "Vicuna-13B"}
    assert {k: round(v.value, 3) for k, v in vicuna.items()} == {"MT-bench": 6.39, "Arena Elo": 1061, "mmlu": 0.521}
    assert {r.source_date for r in table.results} == {"2023-06-22"}
    assert {r.source_url for r in table.results} == {"https://lmsys.org/blog/2023-06-22-leaderboard/"}
    assert vicuna["mmlu"].extra["license"] == "Non-commercial"


def test_alpaca_eval_csv_gives_win_rates_with_their_standard_errors(tmp_path: Path) -> None:
    table = read_published(published_files.alpaca_eval_csv(tmp_path))
    got = {(r.model, r.benchmark): (r.value, r.stderr) for r in table.results}
    assert got == {("vicuna-13b", "AlpacaEval 2.0 win rate"): (5.83, 0.71),
                   ("vicuna-13b", "AlpacaEval 2.0 LC win rate"): (10.48, 0.12),
                   ("alpaca-7b", "AlpacaEval 2.0 win rate"): (2.59, 0.47)}


def test_lm_eval_results_give_asked_tasks_with_their_first_metric(tmp_path: Path) -> None:
    table = read_published(published_files.lm_eval_results(tmp_path))
    got = {r.task: (r.metric, r.value, r.stderr) for r in table.results}
    assert got == {"mmlu": ("acc", 0.46, 0.004), "hellaswag": ("acc", 0.57, 0.005)}  # subtasks left out
    assert {r.model for r in table.results} == {"vicuna-7b-v1.5"}  # the folder of a local path is dropped
    assert {r.source_date for r in table.results} == {"2023-11-14"}


def test_open_llm_leaderboard_results_use_its_metrics(tmp_path: Path) -> None:
    table = read_published(published_files.open_llm_results(tmp_path), fmt="lm-eval-results")
    got = {r.task: (r.metric, round(r.value, 3)) for r in table.results}
    assert got == {"arc_challenge": ("acc_norm", 0.54), "hellaswag": ("acc_norm", 0.8),
                   "truthfulqa_mc2": ("mc2", 0.5), "mmlu": ("acc", 0.45)}
    assert {r.leaderboard for r in table.results} == {"open-llm-leaderboard"}


def test_bad_files_fail_with_one_line_naming_the_file(tmp_path: Path) -> None:
    pairwise = tmp_path / "scores.csv"
    pairwise.write_text("baseline,baseline_total_score,vicuna13b_total_score\nLLaMA-13B,513.0,694.0\n")
    with pytest.raises(HarnessError, match="cannot tell which published leaderboard"):
        read_published(pairwise)
    with pytest.raises(HarnessError, match="no 'model' column"):
        read_published(pairwise, fmt="lmsys-csv")
    with pytest.raises(HarnessError, match="unknown format"):
        read_published(pairwise, fmt="nope")
    with pytest.raises(HarnessError, match="no file"):
        read_published(tmp_path / "absent.md")
    with pytest.raises(HarnessError, match="bad --date"):
        read_published(published_files.lmsys_csv(tmp_path), date="June 2023")


def test_import_stores_published_records_apart_and_reimporting_adds_nothing(tmp_path: Path) -> None:
    path = published_files.lmsys_csv(tmp_path)
    first = import_published(path)
    again = import_published(path)
    assert (first.results_read, first.results_written, again.results_written) == (8, 8, 0)
    store = open_store()
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(published_results)).scalar() == 8
        assert conn.execute(sa.select(sa.func.count()).select_from(scores)).scalar() == 0
    assert [r.model for r in stored(store, models=["vicuna-13b"])] == ["Vicuna-13B"] * 3  # any case
    assert list_leaderboards(store)[0]["results"] == 8


def test_cli_import_json_list_json_and_a_bad_file(tmp_path: Path) -> None:
    path = published_files.llm_leaderboard(tmp_path)
    done = runner.invoke(app, ["published", "import", str(path), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) | {"file": "README.md"} == {
        "format": "llm-leaderboard", "file": "README.md", "leaderboards": ["llm-leaderboard"], "models": 3,
        "results_read": 4, "results_written": 4, "mapped_to_tasks": ["mmlu"]}
    listed = json.loads(runner.invoke(app, ["published", "list", "--json"]).stdout)
    assert [t["results"] for t in listed["leaderboards"]] == [4] and len(listed["results"]) == 4
    one = json.loads(runner.invoke(app, ["published", "list", "--model", "LLAMA-65B", "--json"]).stdout)
    assert {r["benchmark"] for r in one["results"]} == {"mmlu", "HellaSwag (zero-shot)"}
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    failed = runner.invoke(app, ["published", "import", str(bad)])
    assert failed.exit_code == 2 and "cannot tell which published leaderboard" in failed.output
    assert json.loads(runner.invoke(app, ["published", "list", "--json"]).stdout) == listed  # store untouched


def test_shared_llm_leaderboard_gives_52_models_and_154_filled_cells(shared_data: Path) -> None:
    table = read_published(shared_data / "llm_leaderboard_stumpp" / "README.md")
    assert table.format == "llm-leaderboard"
    assert len(table.models) == 52 and len(table.results) == 154
    assert all(r.source_url and r.source_url.startswith("http") for r in table.results)
    alpaca = {r.benchmark: r for r in table.results if r.model == "alpaca-13b"}
    assert alpaca["Arena Elo"].value == 1008 and alpaca["Arena Elo"].source_url == "https://lmsys.org/blog/2023-05-03-arena/"


@pytest.mark.parametrize(("relative", "fmt", "models", "results"), [
    ("published_tables/lmsys_blog_2023-05-03_arena_elo.csv", "lmsys-csv", 9, 9),
    ("published_tables/lmsys_blog_2023-06-22_mtbench_arena.csv", "lmsys-csv", 31, 81),
    ("published_tables/lmsys_blog_2023-12-07_arena_bt.csv", "lmsys-csv", 16, 16),
    ("alpaca_eval/leaderboards/data_AlpacaEval/alpaca_eval_gpt4_leaderboard.csv", "alpaca-eval-csv", 102, 160),
    ("alpaca_eval/leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv",
     "alpaca-eval-csv", 223, 446),
])
def test_shared_published_tables_parse(shared_data: Path, relative: str, fmt: str, models: int,
                                       results: int) -> None:
    table = read_published(shared_data / relative)
    assert (table.format, len(table.models), len(table.results)) == (fmt, models, results)


def test_shared_mtbench_table_matches_the_blog(shared_data: Path) -> None:
    table = read_published(shared_data / "published_tables" / "lmsys_blog_2023-06-22_mtbench_arena.csv")
    vicuna = {r.benchmark: r.value for r in table.results if r.model == "Vicuna-13B"}
    assert vicuna == {"MT-bench": 6.39, "Arena Elo": 1061, "mmlu": pytest.approx(0.521)}


def test_a_real_lm_eval_results_file_reads_as_the_store_would_score_it(tmp_path: Path, tiny_model_dir: Path) -> None:
    """lm-eval's own writer (EvaluationTracker) on a real run: each task's value is the store's primary score."""
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    from harness.eval.results import parse_scores
    from harness.eval.suites import task_manager

    results = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={tiny_model_dir},dtype=float32",
                                      tasks=["arith_mc", "arith_gen"], device="cpu", limit=4, batch_size=4,
                                      bootstrap_iters=0, task_manager=task_manager(["arith_mc", "arith_gen"]))
    assert results is not None
    EvaluationTracker(output_path=str(tmp_path / "out")).save_results_aggregated(results=results, samples=None)
    path = next((tmp_path / "out").rglob("results_*.json"))
    assert detect_published_format(path) == "lm-eval-results"
    table = read_published(path)
    primary: dict[str, tuple[str, float | None]] = {}
    for score in parse_scores(results):
        primary.setdefault(score.task, (score.metric, score.value))
    assert {r.task: (r.metric, r.value) for r in table.results} == primary
    assert {r.model for r in table.results} == {tiny_model_dir.name}
