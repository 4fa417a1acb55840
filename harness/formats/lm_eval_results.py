"""lm-eval results files: `results_<time>.json` as lm-eval 0.4 writes it, and the Open LLM Leaderboard's
(v1) results files, whose keys read `harness|arc:challenge|25`.

lm-eval 0.4: each task the run asked for (a group once, by its own aggregate; its subtasks are left out)
gives its first reported metric, as the store shows it. Open LLM Leaderboard v1: its six benchmarks with
the leaderboard's metrics (ARC and HellaSwag acc_norm, MMLU the mean acc of the 57 hendrycksTest tasks,
TruthfulQA mc2, Winogrande acc, GSM8K acc).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.formats.benchmarks import Column, number, result
from harness.formats.rows import file_digest
from harness.records import PublishedResult

FORMAT = "lm-eval-results"
OPEN_LLM = "https://huggingface.co/spaces/open-llm-leaderboard/open_llm_leaderboard"
# Open LLM Leaderboard v1 key (between the pipes) -> (task, metric it reported)
_OPEN_LLM_TASKS = {"arc:challenge": ("arc_challenge", "acc_norm"), "hellaswag": ("hellaswag", "acc_norm"),
                   "truthfulqa:mc": ("truthfulqa_mc2", "mc2"), "winogrande": ("winogrande", "acc"),
                   "gsm8k": ("gsm8k", "acc")}
_NOT_METRICS = ("alias", "name", "sample_len", "samples")


def load_results(path: Path) -> dict[str, Any]:
    """The parsed file; raises naming the file when it is no lm-eval results document."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path} is not valid JSON: {exc.msg}", hint="pass an lm-eval results_*.json") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise HarnessError(f"{path} has no 'results' object", hint="pass an lm-eval results_*.json")
    return doc


def is_lm_eval_results(path: Path) -> bool:
    if path.suffix.lower() != ".json":
        return False
    try:
        doc = load_results(path)
    except HarnessError:
        return False
    return any(key in doc for key in ("config", "config_general", "versions", "n-shot"))


def _model_name(doc: dict[str, Any], path: Path) -> str:
    general = doc.get("config_general") or {}
    args = str((doc.get("config") or {}).get("model_args") or "")
    pretrained = dict(part.split("=", 1) for part in args.split(",") if "=" in part).get("pretrained")
    name = doc.get("model_name") or general.get("model_name") or pretrained
    if not name:
        raise HarnessError(f"{path} does not name its model", hint="an lm-eval results file has config.model_args")
    return str(name).rstrip("/").split("/")[-1] if Path(str(name)).is_absolute() else str(name)


def _date(doc: dict[str, Any]) -> str | None:
    stamp = number(doc.get("date"))
    return None if stamp is None else dt.datetime.fromtimestamp(stamp, dt.UTC).date().isoformat()


def _first_metric(values: dict[str, Any]) -> tuple[str, float, float | None] | None:
    """lm-eval's first reported metric of a task (`acc,none`: the metric, as the store names it), its value
    and stderr."""
    for key, raw in values.items():
        metric, _, filt = key.partition(",")
        if metric in _NOT_METRICS or metric.endswith("_stderr") or number(raw) is None:
            continue
        return metric, float(raw), number(values.get(f"{metric}_stderr,{filt}" if filt else f"{metric}_stderr"))
    return None


def lm_eval_values(doc: dict[str, Any]) -> list[tuple[str, str, float, float | None]]:
    """(task, metric, value, stderr) of each task a 0.4 run asked for (group subtasks left out)."""
    members = {t for subtasks in (doc.get("group_subtasks") or {}).values() for t in subtasks}
    found = []
    for task, values in doc["results"].items():
        first = _first_metric(values) if task not in members and isinstance(values, dict) else None
        if first is not None:
            found.append((task, *first))
    return found


def open_llm_values(results: dict[str, Any]) -> list[tuple[str, str, float, float | None]]:
    """The six Open LLM Leaderboard v1 benchmarks of a `harness|task|shots` results object."""
    found, mmlu = [], []
    for key, values in results.items():
        name = key.split("|")[1] if key.count("|") == 2 else key
        if name.startswith("hendrycksTest-"):
            mmlu.append(float(values["acc"]))
        elif name in _OPEN_LLM_TASKS:
            task, metric = _OPEN_LLM_TASKS[name]
            found.append((task, metric, float(values[metric]), number(values.get(f"{metric}_stderr"))))
    if mmlu:
        found.append(("mmlu", "acc", sum(mmlu) / len(mmlu), None))
    return found


def read_lm_eval_results(path: Path, source_url: str | None = None,
                         date: str | None = None) -> list[PublishedResult]:
    """One result per task (see the module docstring)."""
    doc = load_results(path)
    model, digest = _model_name(doc, path), file_digest(path)
    old = any(key.startswith("harness|") for key in doc["results"])
    values = open_llm_values(doc["results"]) if old else lm_eval_values(doc)
    board = "open-llm-leaderboard" if old else "lm-eval"
    url = source_url or (OPEN_LLM if old else None)
    return [result(fmt=FORMAT, leaderboard=board, digest=digest, model=model, column=task, value=value,
                   stderr=stderr, metric=metric, source_url=url, source_file=path.name,
                   source_date=date or _date(doc), known=Column(task, task, metric))
            for task, metric, value, stderr in values]
