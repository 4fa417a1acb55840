"""One identity per model (a model is its fingerprint, a name is an alias) and git-like run id prefixes."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import HarnessError
from harness.records import ModelRecord
from harness.store import open_store
from harness.store.models import find_model, upsert_model
from harness.store.runs import create_run, finish_run, read_run
from harness.store.schema import model_aliases, models

runner = CliRunner()


def _model_rows(store_url: str) -> list[dict]:
    with open_store(store_url).engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(models).order_by(models.c.id)).mappings()]


def test_registering_by_path_then_by_name_keeps_one_model(store_url: str) -> None:
    store = open_store(store_url)
    by_path = ModelRecord(name="results/demo/alpaca", source="results/demo/alpaca", fingerprint="sha256:a",
                          kind="full", card={"recipe": "alpaca"})
    first = upsert_model(store, by_path)
    second = upsert_model(store, ModelRecord(name="tiny-alpaca", source="results/demo/alpaca",
                                             fingerprint="sha256:a", kind="full"))
    third = upsert_model(store, ModelRecord(name="./results/demo/alpaca/", source="./results/demo/alpaca/",
                                            fingerprint="sha256:a", kind="full"))
    assert first == second == third
    rows = _model_rows(store_url)
    assert len(rows) == 1 and rows[0]["name"] == "tiny-alpaca"  # a chosen name replaces a path, never the reverse
    assert rows[0]["source"] == "results/demo/alpaca"
    for alias in ("results/demo/alpaca", "tiny-alpaca", "./results/demo/alpaca/"):
        found = find_model(store, alias)
        assert found is not None and found["id"] == first
    # a second chosen name is an alias; the first chosen name stays the model's name
    assert upsert_model(store, ModelRecord(name="alpaca-v2", source="x", fingerprint="sha256:a")) == first
    assert _model_rows(store_url)[0]["name"] == "tiny-alpaca"
    # another fingerprint is another model, even under a known name
    other = upsert_model(store, ModelRecord(name="tiny-alpaca", source="results/demo/alpaca", fingerprint="sha256:b"))
    assert other != first and find_model(store, "tiny-alpaca")["id"] == other  # the newest holder of an alias


def test_migration_007_gives_existing_models_their_aliases(store_url: str) -> None:
    store = open_store(store_url)
    with store.begin() as conn:
        conn.execute(sa.insert(models), [
            {"name": "results/demo/base", "source": "results/demo/base", "fingerprint": "f1", "kind": "base"},
            {"name": "tiny-base", "source": "results/demo/base", "fingerprint": "f1", "kind": "base"},
        ])
        conn.execute(sa.text("DROP TABLE model_aliases"))
        conn.execute(sa.text("DELETE FROM _migrations WHERE name = '006_model_aliases'"))
    store = open_store(store_url)
    with store.engine.connect() as conn:
        aliases = dict(conn.execute(sa.select(model_aliases.c.alias, model_aliases.c.model_id)).all())
    assert aliases == {"results/demo/base": 2, "tiny-base": 2}  # the newest row a path or name was stored under


def _eval(*args: str) -> dict:
    result = runner.invoke(app, ["eval", "--tasks", "arith_mc", "--limit", "4", "--chat-template", "alpaca",
                                 "--json", *args])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_model_by_path_name_or_alias_is_one_model_and_names_resolve(tiny_model_dir: Path, store_url: str) -> None:
    by_path = _eval("--model", str(tiny_model_dir))
    named = _eval("--model", str(tiny_model_dir), "--name", "tiny")
    by_name = _eval("--model", "tiny")
    assert named["cached"] and by_name["cached"] and by_name["run_id"] == by_path["run_id"]
    assert named["model"]["name"] == by_name["model"]["name"] == "tiny"
    rows = _model_rows(store_url)
    assert [(r["name"], r["source"]) for r in rows] == [("tiny", str(tiny_model_dir))]
    listed = json.loads(runner.invoke(app, ["runs", "list", "--json"]).stdout)["runs"]
    assert {r["model"] for r in listed} == {"tiny"}
    # the judge's hint names a stored model; it runs as printed
    hint = runner.invoke(app, ["judge", "--models", "tiny", "--questions", "arith"])
    assert hint.exit_code == 2 and "harness generate --model tiny --questions arith" in hint.stderr
    command = hint.stderr.split("`")[1]
    generated = runner.invoke(app, [*shlex.split(command)[1:], "--max-new-tokens", "4"])
    assert generated.exit_code == 0, generated.stderr
    assert "tiny: 16 answers generated" in generated.stdout
    assert len(_model_rows(store_url)) == 1
    # the judge takes the model by its path too: its answers are stored under its name
    judged = runner.invoke(app, ["judge", "--models", str(tiny_model_dir), "--questions", "arith", "--mode", "single",
                                 "--json"])
    assert judged.exit_code == 0, judged.stderr
    assert [r["model"] for r in json.loads(judged.stdout)["results"]] == ["tiny"]


def test_an_unknown_name_says_what_it_tried(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "--model", "no-such-model", "--tasks", "arith_mc"])
    assert result.exit_code == 2
    assert "no checkpoint at no-such-model and no stored model of that name" in result.stderr


def _runs(store_url: str, ids: list[str]) -> None:
    store = open_store(store_url)
    model_id = upsert_model(store, ModelRecord(name="m", source="m", fingerprint="sha256:m"))
    for run_id in ids:
        create_run(store, model_id, {"suite": None, "tasks": [], "config": {}, "config_hash": "h", "backend": "hf",
                                     "versions": {}}, run_id=run_id)
        finish_run(store, run_id, "finished")


def test_a_unique_run_id_prefix_works_like_git(store_url: str) -> None:
    _runs(store_url, ["r-441356aaaaaa", "r-441356bbbbbb", "r-9f0000000000"])
    shown = runner.invoke(app, ["runs", "show", "r-9f", "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == "r-9f0000000000"
    ambiguous = runner.invoke(app, ["runs", "show", "r-441356"])
    assert ambiguous.exit_code == 2
    assert "ambiguous" in ambiguous.stderr and "r-441356aaaaaa" in ambiguous.stderr
    assert "r-441356bbbbbb" in ambiguous.stderr
    assert runner.invoke(app, ["runs", "show", "r-441356b"]).exit_code == 0
    missing = runner.invoke(app, ["runs", "show", "r-77"])
    assert missing.exit_code == 2 and "no run 'r-77'" in missing.stderr
    store = open_store(store_url)
    assert read_run(store, "r-441356", prefix=False) is None  # exact lookups stay exact
    with pytest.raises(HarnessError, match="ambiguous"):
        read_run(store, "r-4")


def test_gate_and_baseline_take_run_id_prefixes(store_url: str) -> None:
    _runs(store_url, ["r-aaaa00000000", "r-bbbb00000000"])
    pinned = runner.invoke(app, ["baseline", "set", "main", "r-aa", "--json"])
    assert pinned.exit_code == 0, pinned.stderr
    assert json.loads(pinned.stdout)["run_id"] == "r-aaaa00000000"


def test_leaderboard_shows_one_row_per_model_and_the_base_by_name(store_url: str) -> None:
    from harness.store.views import read_models, read_ratings, read_scores, read_win_counts
    from leaderboard_app.board import build_board

    store = open_store(store_url)
    base = upsert_model(store, ModelRecord(name="results/demo/base", source="results/demo/base", fingerprint="fb"))
    upsert_model(store, ModelRecord(name="tiny-base", source="results/demo/base", fingerprint="fb"))
    card = {"base_fingerprint": "fb", "recipe": "alpaca"}
    upsert_model(store, ModelRecord(name="results/demo/alpaca", source="results/demo/alpaca", fingerprint="fa",
                                    kind="full", base_model="results/demo/base", recipe="alpaca", card=card))
    alpaca = upsert_model(store, ModelRecord(name="tiny-alpaca", source="results/demo/alpaca", fingerprint="fa",
                                             kind="full", base_model="results/demo/base", recipe="alpaca", card=card))
    with store.begin() as conn:  # a twin a store made before aliases existed, with the scores on the path row
        conn.execute(sa.insert(models).values(name="results/demo/vicuna", source="results/demo/vicuna",
                                              fingerprint="fv", kind="full", card={}))
        conn.execute(sa.insert(models).values(name="tiny-vicuna", source="results/demo/vicuna", fingerprint="fv",
                                              kind="full", card={}))
    board = build_board(read_models(store), read_scores(store), read_win_counts(store), read_ratings(store))
    frame = board.frame.set_index("model")
    assert sorted(frame.index) == ["tiny-alpaca", "tiny-base", "tiny-vicuna"]
    assert frame.loc["tiny-alpaca", "base model"] == "tiny-base"
    assert int(frame.loc["tiny-base", "model_id"]) == base and int(frame.loc["tiny-alpaca", "model_id"]) == alpaca
