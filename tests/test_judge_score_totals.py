"""`harness judge results --mode score-totals`: summed 1-10 scores per model pair, checked on small battles and,
where ../shared/data is present, on the March-2023 Vicuna-80 GPT-4 reviews against the blog's Table 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.judge.results import score_totals
from harness.records import Battle

runner = CliRunner()


def test_score_totals_sum_per_pair_and_skip_unscored() -> None:
    battles = [Battle(model_a="a", model_b="b", winner="model_a", extra={"score_a": 8, "score_b": 6.5}),
               Battle(model_a="a", model_b="b", winner="model_b", extra={"score_a": 3, "score_b": 9}),
               Battle(model_a="a", model_b="c", winner="tie", extra={}),
               Battle(model_a="c", model_b="b", winner="tie", extra={"score_a": 5, "score_b": 5})]
    totals = {(t.model_a, t.model_b): (t.total_a, t.total_b, t.n) for t in score_totals(battles)}
    assert totals == {("a", "b"): (11.0, 15.5, 2), ("c", "b"): (5.0, 5.0, 1)}


BLOG_NAMES = {"LLaMA-13B": "llama-13b:v1", "Alpaca-13B": "alpaca-13b:v1", "Bard": "bard:20230327",
              "ChatGPT": "gpt-3.5-turbo:20230327"}


def test_vicuna80_totals_match_the_blog_table(shared_data: Path) -> None:
    res = runner.invoke(app, ["judge", "import", str(shared_data / "vicuna80_fastchat_eval")])
    assert res.exit_code == 0, res.output
    doc = json.loads(runner.invoke(app, ["judge", "results", "--mode", "score-totals", "--json"]).stdout)
    rows = {(r["model_a"], r["model_b"]): r for r in doc["judges"][0]["results"]}
    table = shared_data / "published_tables" / "lmsys_blog_2023-03-30_vicuna_gpt4_total_scores.csv"
    with table.open(newline="") as f:
        published = list(csv.DictReader(f))
    assert len(published) == 4
    for line in published:
        row = rows[(BLOG_NAMES[line["baseline"]], "vicuna-13b:20230322-clean-lang")]
        assert row["n"] == 80
        assert row["total_a"] == pytest.approx(float(line["baseline_total_score"]))
        assert row["total_b"] == pytest.approx(float(line["vicuna13b_total_score"]))
