"""`harness eval` end to end on the tiny model: lm-eval parity, the store cache, resumption and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.store import open_store
from harness.store.runs import count_rows, get_run, list_runs

runner = CliRunner()
LIMIT = "8"


def harness(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def eval_json(model: Path | str, *extra: str) -> dict:
    code, out, err = harness("eval", "--model", str(model), "--suite", "smoke", "--limit", LIMIT, "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def by_key(scores: list[dict]) -> dict[tuple[str, str, str], float]:
    return {(s["task"], s["metric"], s["filter"]): s["value"] for s in scores}


def test_eval_matches_lm_eval_and_lands_in_store(tiny_model_dir: Path) -> None:
    import lm_eval
    from lm_eval.tasks import TaskManager

    from harness.eval.suites import TASKS_DIR

    doc = eval_json(tiny_model_dir)
    assert doc["cached"] is False and doc["model"]["fingerprint"].startswith("sha256:")
    ours = by_key(doc["scores"])
    assert set(ours) == {("arith_mc", "acc", "none"), ("arith_mc", "acc_norm", "none"),
                         ("arith_gen", "exact_match", "first_number")}

    direct = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={tiny_model_dir}", device="cpu", batch_size=16, limit=int(LIMIT),
        tasks=["arith_mc", "arith_gen"], task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False),
    )
    for (task, metric, filt), value in ours.items():
        assert value == pytest.approx(direct["results"][task][f"{metric},{filt}"], abs=1e-12)

    run = get_run(open_store(), doc["run_id"])
    assert run is not None and run["status"] == "finished"
    assert run["versions"]["lm_eval"] == "0.4.13" and run["chat_template"] is None
    assert {r["task"]: r["n_samples"] for r in run["task_results"]} == {"arith_mc": 8, "arith_gen": 8}
    assert count_rows(open_store())["samples"] == 16


def test_second_eval_is_served_from_store_without_loading(tiny_model_dir: Path, monkeypatch, tmp_path: Path) -> None:
    first = eval_json(tiny_model_dir)

    def refuse(*args, **kwargs):
        raise AssertionError("model was loaded although the store had every task")

    with monkeypatch.context() as patch:
        patch.setattr("harness.eval.evaluate.load_lm", refuse)
        again = eval_json(tiny_model_dir)
    assert again["cached"] is True and again["run_id"] == first["run_id"]
    assert by_key(again["scores"]) == by_key(first["scores"])

    changed = tmp_path / "changed"
    shutil.copytree(tiny_model_dir, changed)
    _perturb_weights(changed)
    other = eval_json(changed)
    assert other["cached"] is False and other["model"]["fingerprint"] != first["model"]["fingerprint"]

    forced = eval_json(tiny_model_dir, "--force")
    assert forced["cached"] is False and forced["run_id"] != first["run_id"]


def test_changed_task_config_is_not_served_from_store(tiny_model_dir: Path, monkeypatch, tmp_path: Path) -> None:
    first = eval_json(tiny_model_dir)
    tasks = tmp_path / "tasks"
    shutil.copytree(Path(__file__).resolve().parent.parent / "tasks", tasks)
    gen = tasks / "arith" / "arith_gen.yaml"
    gen.write_text(gen.read_text().replace("max_gen_toks: 6", "max_gen_toks: 5"))
    monkeypatch.setattr("harness.eval.suites.TASKS_DIR", tasks)
    monkeypatch.setattr("harness.eval.suites.SUITES_DIR", tasks / "suites")
    second = eval_json(tiny_model_dir)
    assert second["cached"] is False and second["cached_tasks"] == ["arith_mc"]
    run = get_run(open_store(), second["run_id"])
    copied = {r["task"]: r["copied_from"] for r in run["task_results"]}
    assert copied == {"arith_mc": first["run_id"], "arith_gen": None}


def test_interrupted_run_keeps_finished_tasks_and_resumes(tiny_model_dir: Path, monkeypatch) -> None:
    from harness.eval import evaluate

    real = evaluate.evaluate_task
    calls: list[str] = []

    def interrupt_second(lm, planned, config, template):
        calls.append(planned.entry.task)
        if planned.entry.task == "arith_gen":
            raise KeyboardInterrupt
        return real(lm, planned, config, template)

    monkeypatch.setattr(evaluate, "evaluate_task", interrupt_second)
    code, _, err = harness("eval", "--model", str(tiny_model_dir), "--suite", "smoke", "--limit", LIMIT)
    assert code == 130 and "interrupted" in err
    (killed,) = list_runs(open_store())
    assert killed["status"] == "interrupted"
    assert [r["task"] for r in get_run(open_store(), killed["id"])["task_results"]] == ["arith_mc"]

    calls.clear()
    monkeypatch.setattr(evaluate, "evaluate_task", lambda *a: (calls.append(a[1].entry.task), real(*a))[1])
    resumed = eval_json(tiny_model_dir)
    assert calls == ["arith_gen"] and resumed["cached_tasks"] == ["arith_mc"]


def test_chat_template_is_applied_and_recorded(tiny_model_dir: Path) -> None:
    from harness.eval.templates import load_chat_template

    doc = eval_json(tiny_model_dir, "--chat-template", "alpaca")
    run = get_run(open_store(), doc["run_id"])
    assert run["chat_template"] == "alpaca" and run["chat_template_hash"] == load_chat_template("alpaca").hash
    prompt = open_store().engine.connect().exec_driver_sql(
        "select prompt from samples where task='arith_gen' limit 1").scalar()
    assert prompt.startswith("Below is an instruction") and prompt.endswith("### Response:\n")
    plain = eval_json(tiny_model_dir)
    assert plain["run_id"] != doc["run_id"]  # the template is part of the cache key


def test_peft_adapter_directory_is_evaluated_on_its_base(tiny_model_dir: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    lora = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter = tmp_path / "adapter"
    lora.save_pretrained(adapter)
    doc = eval_json(adapter)
    run = get_run(open_store(), doc["run_id"])
    models = open_store().engine.connect().exec_driver_sql("select kind, base_model from models").all()
    assert models == [("lora", str(tiny_model_dir))]
    assert run["status"] == "finished"


def _fill_store() -> None:
    from harness.records import ModelRecord, Score, TaskResult
    from harness.store.runs import create_run, upsert_model, write_task_result

    store = open_store()
    model_id = upsert_model(store, ModelRecord(name="m", source="m", fingerprint="sha256:0"))
    run_id = create_run(store, model_id, {"tasks": [], "config": {}, "config_hash": "x", "backend": "hf",
                                          "versions": {}})
    write_task_result(store, run_id, TaskResult(task="t", task_hash="h", eval_key="k", num_fewshot=0, scores=[Score(task="t", metric="acc", filter="none", value=0.5, stderr=0.1, n=10)], samples=[]))


def _perturb_weights(directory: Path) -> None:
    from safetensors.torch import load_file, save_file

    path = directory / "model.safetensors"
    tensors = load_file(path)
    name = next(iter(tensors))
    tensors[name] = tensors[name] + 0.5
    save_file(tensors, path, metadata={"format": "pt"})


def _broken_model(tmp_path: Path, tiny: Path, how: str) -> Path:
    bad = tmp_path / how
    shutil.copytree(tiny, bad)
    if how == "corrupt_weights":
        (bad / "model.safetensors").write_bytes(b"\x00not safetensors")
    elif how == "truncated_weights":  # a copy cut short: the header parses, the data does not fill it
        weights = bad / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:-100])
    elif how == "corrupt_config":
        (bad / "config.json").write_text("{ not json")
    elif how == "no_tokenizer":
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (bad / name).unlink()
    return bad


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tasks", "no_such_task"], "unknown task no_such_task"),
        (["--suite", "nope"], "unknown suite 'nope'"),
        (["--suite", "smoke", "--tasks", "arith_mc"], "exactly one of --suite and --tasks"),
        (["--suite", "smoke", "--backend", "vllm"], "backend 'vllm' needs the vllm extra"),
        (["--suite", "smoke", "--backend", "tpu"], "bad value for --backend"),
        (["--suite", "smoke", "--chat-template", "chatml"], "unknown chat template 'chatml'"),
        (["--suite", "smoke", "--chat-template", "tokenizer"], "has no chat template of its own"),
    ],
)
def test_bad_arguments_fail_cleanly(tiny_model_dir: Path, store_url: str, args: list[str], message: str) -> None:
    _fill_store()  # a store with content, to show it stays as it was
    before = count_rows(open_store())
    code, out, err = harness("eval", "--model", str(tiny_model_dir), *args)
    assert code == 2 and message in err and "Traceback" not in err and out == ""
    assert count_rows(open_store()) == before


@pytest.mark.parametrize(
    "how, message",
    [
        ("missing", "no checkpoint at"),
        ("corrupt_weights", "corrupt checkpoint: model.safetensors"),
        ("truncated_weights", "corrupt checkpoint: model.safetensors does not open (file is"),
        ("corrupt_config", "is not valid JSON"),
        ("no_tokenizer", "has no tokenizer"),
    ],
)
def test_bad_models_fail_before_the_store_exists(tiny_model_dir: Path, tmp_path: Path, how: str, message: str) -> None:
    model = tmp_path / "missing" if how == "missing" else _broken_model(tmp_path, tiny_model_dir, how)
    code, _, err = harness("eval", "--model", str(model), "--suite", "smoke")
    assert code == 2 and message in err and len(err.strip().splitlines()) <= 2
    assert not (tmp_path / "store.db").exists()


@pytest.mark.parametrize("url, message", [("postgresql+nodriver://x@y/z", "bad store URL"),
                                          ("nosuchdb://x/y", "bad store URL"),
                                          ("sqlite:////proc/no/such/dir/h.db", "cannot open store")])
def test_bad_store_url(tiny_model_dir: Path, url: str, message: str) -> None:
    code, _, err = harness("eval", "--model", str(tiny_model_dir), "--suite", "smoke", "--store", url)
    assert code == 2 and message in err


def test_runs_list_and_show(tiny_model_dir: Path) -> None:
    doc = eval_json(tiny_model_dir)
    code, out, _ = harness("runs", "list", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)["runs"]] == [doc["run_id"]]
    code, out, _ = harness("runs", "show", doc["run_id"], "--json")
    shown = json.loads(out)
    assert code == 0 and shown["status"] == "finished" and len(shown["scores"]) == 3
    code, out, _ = harness("runs", "show", doc["run_id"])
    assert code == 0 and "arith_gen" in out
    code, _, err = harness("runs", "show", "r-nope")
    assert code == 2 and "no run 'r-nope'" in err


def test_local_completions_backend_against_a_loopback_server(openai_server) -> None:
    from tests.openai_server import completion_reply

    def answer(path: str, body: dict) -> object:
        question = body["prompt"] if isinstance(body["prompt"], str) else body["prompt"][0]
        a, b = question.removeprefix("What is ").rstrip("?").split("+")
        return completion_reply(str(int(a) + int(b)) if int(a) % 2 else "0")

    openai_server.responder = answer
    code, out, err = harness("eval", "--model", "served-model", "--backend", "local-completions",
                             "--base-url", f"{openai_server.url}/completions", "--tasks", "arith_gen",
                             "--limit", LIMIT, "--json")
    assert code == 0, err
    doc = json.loads(out)
    prompts = [body["prompt"] for path, body, _ in openai_server.requests]
    odd = sum(int(p.removeprefix("What is ").split("+")[0]) % 2 for p in prompts)
    assert len(prompts) == int(LIMIT)
    assert by_key(doc["scores"])[("arith_gen", "exact_match", "first_number")] == pytest.approx(odd / len(prompts))
    run = get_run(open_store(), doc["run_id"])
    assert run["backend"] == "local-completions"


def test_group_task_keeps_its_subtasks_samples(tiny_model_dir: Path) -> None:
    from harness.store.runs import read_task_result, read_task_scores

    code, out, err = harness("eval", "--model", str(tiny_model_dir), "--tasks", "arith", "--limit", LIMIT, "--json")
    assert code == 0, err
    doc = json.loads(out)
    result = read_task_result(open_store(), doc["run_id"], "arith")
    assert sorted(result.members) == ["arith", "arith_gen", "arith_mc"]
    assert sorted({s.task for s in result.samples}) == ["arith_gen", "arith_mc"] and len(result.samples) == 16
    assert {s.task for s in result.scores} >= {"arith_gen", "arith_mc"}
    assert read_task_scores(open_store(), doc["run_id"], "arith") == result.scores  # what a store hit prints


def test_tokenizer_template_is_named_and_keyed_by_its_content(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from harness.eval.templates import BUILTIN_TEMPLATES

    tuned = tmp_path / "tuned"
    shutil.copytree(tiny_model_dir, tuned)
    tokenizer = AutoTokenizer.from_pretrained(tuned)
    tokenizer.chat_template = BUILTIN_TEMPLATES["alpaca"]
    tokenizer.save_pretrained(tuned)

    own = eval_json(tuned, "--chat-template", "tokenizer")
    assert get_run(open_store(), own["run_id"])["chat_template"] == "alpaca"
    named = eval_json(tuned, "--chat-template", "alpaca")  # the same prompts: served from the store
    assert named["cached"] is True and named["run_id"] == own["run_id"]


def test_store_hit_on_project_tasks_needs_no_lm_eval(tiny_model_dir: Path, store_url: str) -> None:
    import os
    import subprocess
    import sys

    first = eval_json(tiny_model_dir)
    script = (
        "import sys, json\n"
        "from harness.eval.config import EvalConfig\n"
        "from harness.eval.evaluate import run_eval\n"
        f"out = run_eval(EvalConfig(model={str(tiny_model_dir)!r}, suite='smoke', limit={LIMIT}))\n"
        "print(json.dumps([out.run_id, out.cached, *(m in sys.modules for m in ('lm_eval', 'torch', 'tokenizers'))]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={**os.environ, "HARNESS_STORE": store_url})
    # nor the tokenizer: a hit's fingerprint is that of files a finished run loaded
    assert json.loads(done.stdout.splitlines()[-1]) == [first["run_id"], True, False, False, False]
