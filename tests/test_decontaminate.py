"""`harness decontaminate`: n-gram overlap between fine-tuning data and evaluation documents, and a cleaned file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.decontaminate import _grams, _janitor
from harness.eval.suites import TASKS_DIR

runner = CliRunner()


def decontaminate(*args: str) -> dict:
    result = runner.invoke(app, ["decontaminate", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def _test_doc(index: int) -> dict:
    import importlib.util

    spec = importlib.util.spec_from_file_location("arith_build", TASKS_DIR / "arith" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.build_rows("test")[index])


def test_grams_are_lm_evals_normalised_13_grams() -> None:
    janitor = _janitor(13)
    words = janitor.normalize_string("The quick, brown fox jumps over the lazy dog; then it runs far away again!").split()
    grams = _grams(words, 13)
    assert len(grams) == len(words) - 12 and grams[0] == "the quick brown fox jumps over the lazy dog then it runs far"
    assert _grams(["what", "is", "1354", "67"], 13) == ["what is 1354 67"]  # a short document is one gram


def test_planted_document_is_found_and_cleaned(tmp_path: Path) -> None:
    doc = _test_doc(7)
    rows = [{"instruction": "Name a color.", "input": "", "output": "Blue."},
            {"instruction": doc["question"], "input": "", "output": f"The answer is {doc['answer']}."},
            {"instruction": doc["question"], "input": "", "output": str(int(doc["answer"]) + 1)},  # wrong answer: clean
            {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}]
    data = tmp_path / "train.json"
    data.write_text(json.dumps(rows))
    report = decontaminate("--data", str(data), "--suite", "smoke", "--out", str(tmp_path / "clean.json"))
    assert report["records"] == 4 and report["contaminated_records"] == 0  # "the answer is" splits question and answer
    data.write_text(json.dumps([*rows, {"instruction": doc["question"], "input": "", "output": doc["answer"]}]))
    report = decontaminate("--data", str(data), "--tasks", "arith_mc,arith_gen", "--out", str(tmp_path / "clean.json"))
    for task in ("arith_mc", "arith_gen"):
        found = report["tasks"][task]
        assert (found["docs"], found["contaminated_docs"], found["contaminated_records"]) == (200, 1, 1)
        assert found["examples"] == [{"task": task, "doc_id": 7, "record": "train.json:4",
                                      "gram": _janitor(13).normalize_string(f"{doc['question']} {doc['answer']}")}]
    assert report["kept"] == 4 and json.loads((tmp_path / "clean.json").read_text()) == rows


def test_real_alpaca_sample_against_the_smoke_suite(shared_data: Path) -> None:
    report = decontaminate("--data", str(shared_data / "alpaca" / "alpaca_data_sample.json"), "--suite", "smoke")
    assert report["records"] == 1727 and report["ngram"] == 13 and report["contaminated_records"] == 0
    assert {name: t["docs"] for name, t in report["tasks"].items()} == {"arith_mc": 200, "arith_gen": 200}


def test_bad_input_fails_cleanly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["decontaminate", "--data", str(tmp_path / "none.json"), "--suite", "smoke"])
    assert result.exit_code == 2 and "no training data" in result.stderr
    result = runner.invoke(app, ["decontaminate", "--data", "a.json", "--data", "b.json", "--suite", "smoke",
                                 "--out", "c.json"])
    assert result.exit_code == 2 and "--out needs exactly one --data" in result.stderr


def test_findings_are_stored_per_data_file_and_flag_the_model_trained_on_it(tmp_path: Path, store_url: str) -> None:
    """Two data files: only the one holding a test document is recorded contaminated, and the leaderboard flags
    the model whose card names it (by the data's sha256, as `harness finetune` records it), not the other."""
    from fine_tune.data import data_sha256
    from harness.records import ModelRecord
    from harness.store import open_store
    from harness.store.runs import create_run, finish_run, upsert_model, write_task_result
    from tests.test_leaderboard import _task, open_page, table

    doc = _test_doc(3)
    dirty, clean = tmp_path / "dirty.json", tmp_path / "clean.json"
    dirty.write_text(json.dumps([{"instruction": doc["question"], "input": "", "output": doc["answer"]}]))
    clean.write_text(json.dumps([{"instruction": "Name a color.", "input": "", "output": "Blue."}]))
    report = decontaminate("--data", str(dirty), "--data", str(clean), "--tasks", "arith_mc")
    assert report["recorded"] == 2 and report["tasks"]["arith_mc"]["contaminated_docs"] == 1
    store = open_store(store_url)
    for name, data in (("on-dirty", dirty), ("on-clean", clean)):
        model_id = upsert_model(store, ModelRecord(name=name, source=name, fingerprint=f"sha256:{name}", kind="full",
                                                   card={"data": {"sha256": data_sha256(data)}}))
        run_id = create_run(store, model_id, {"suite": None, "tasks": [{"task": "arith_mc"}], "config": {},
                                              "config_hash": "h", "backend": "hf", "versions": {}})
        write_task_result(store, run_id, _task("arith_mc", "acc", 0.9, 0.02, None))
        finish_run(store, run_id, "finished")
    at = open_page("pages/leaderboard.py")
    flags = table(at).set_index("model")["contaminated"]
    assert flags["on-dirty"] == "arith_mc" and flags.isna()["on-clean"]
    warning = ("on-dirty was fine-tuned on data that holds documents of arith_mc (`harness decontaminate`): "
               "its scores there overstate it.")
    assert [w.value for w in at.warning] == [warning]
