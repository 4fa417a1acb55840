"""Runs as lm-eval's own output folders, both ways: `harness runs export RUN --format lm-eval DIR` and
`harness runs import DIR`.

Export writes through lm-eval's `EvaluationTracker` (`results_<date>.json` and `samples_<task>_<date>.jsonl` under
`DIR/<model>/`), so the files are what `lm_eval --output_path DIR --log_samples` writes. Import finds a folder's
newest results file with lm-eval's own filename helpers and stores its scores and samples as a finished run.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.eval.results import parse_samples, parse_scores
from harness.fingerprint import content_hash
from harness.records import ModelRecord, TaskResult
from harness.store import Store
from harness.store.leases import claim, release, run_key
from harness.store.runs import (
    create_run,
    find_task_results,
    finish_run,
    get_run,
    new_run_id,
    read_task_result,
    upsert_model,
    write_task_result,
)

log = logging.getLogger(__name__)


def _results_document(run: dict[str, Any], tasks: list[TaskResult]) -> dict[str, Any]:
    """lm-eval's aggregated results dict for a stored run (what `simple_evaluate` returns, minus samples)."""
    results: dict[str, dict[str, Any]] = {}
    better: dict[str, dict[str, bool | None]] = {}
    counts: dict[str, dict[str, int]] = {}
    for task in tasks:
        for s in task.scores:
            results.setdefault(s.task, {"alias": s.task})[f"{s.metric},{s.filter}"] = s.value
            results[s.task][f"{s.metric}_stderr,{s.filter}"] = "N/A" if s.stderr is None else s.stderr
            better.setdefault(s.task, {})[s.metric] = s.higher_is_better
            if s.n is not None:
                counts[s.task] = {"original": s.n, "effective": s.n}
    config = run["config"]
    return {
        "results": results,
        "group_subtasks": {t.task: [m for m in t.members if m != t.task] for t in tasks},
        "configs": {},
        "versions": {},
        "n-shot": {name: next((t.num_fewshot or 0 for t in tasks if name in t.members), 0) for name in results},
        "higher_is_better": better,
        "n-samples": counts,
        "config": {"model": run["backend"], "model_args": f"pretrained={config.get('model', run['model'])}",
                   "limit": config.get("limit"), "gen_kwargs": config.get("gen_kwargs"),
                   "harness": {"run_id": run["id"], "model": run["model"], "fingerprint": run["model_fingerprint"]}},
        "lm_eval_version": run["versions"].get("lm_eval"),
        "transformers_version": run["versions"].get("transformers"),
        "git_hash": run.get("git_revision"),
    }


def export_run(store: Store, run_id: str, out_dir: str | Path) -> Path:
    """Write `run_id` as lm-eval's output folder under `out_dir`; returns the results file.

    Raises:
        HarnessError: no such run, or a run stored before samples kept their lm-eval logs.
    """
    from lm_eval.loggers import EvaluationTracker

    run = get_run(store, run_id)
    if run is None:
        raise HarnessError(f"no run {run_id!r} in the store", hint="list runs with `harness runs list`")
    tasks = [read_task_result(store, run_id, r["task"]) for r in run["task_results"]]
    samples: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        for sample in task.samples:
            if sample.log is None:
                raise HarnessError(f"run {run_id} was stored without lm-eval sample logs (before 007_sample_logs)",
                                   hint="re-run it with `harness eval ... --force`")
            samples.setdefault(sample.task, []).append(sample.log)
    tracker = EvaluationTracker(output_path=str(out_dir))
    options = run["config"].get("lm_eval_options") or {}
    tracker.general_config_tracker.log_experiment_args(
        model_source=run["backend"], model_args=f"pretrained={run['model']}",
        system_instruction=run["config"].get("system_instruction"), chat_template=run.get("chat_template"),
        fewshot_as_multiturn=bool(options.get("fewshot_as_multiturn")))
    tracker.save_results_aggregated(results=_results_document(run, tasks), samples=samples)
    for name, rows in samples.items():
        tracker.save_results_samples(task_name=name, samples=copy.deepcopy(rows))
    folder = Path(out_dir) / str(tracker.general_config_tracker.model_name_sanitized)
    written = folder / f"results_{getattr(tracker, 'date_id', '')}.json"
    if not written.is_file():  # lm-eval logs a failed write as a warning and carries on
        raise HarnessError(f"lm-eval could not write its results under {out_dir}", hint="check the folder is writable")
    return written


@dataclass(frozen=True)
class LmEvalFolder:
    """The newest results file of an lm-eval output folder and its samples files, read."""

    results_file: Path
    results: dict[str, Any]
    samples: dict[str, list[dict[str, Any]]]


def _from_file(sample: dict[str, Any]) -> dict[str, Any]:
    """A `samples_*.jsonl` line as lm-eval holds it in memory (arguments as lists, numbers as numbers)."""
    out = dict(sample)
    args = sample.get("arguments")
    if isinstance(args, dict):
        out["arguments"] = [[arg[k] for k in sorted(arg, key=lambda k: int(k.split("_")[1]))]
                            for _, arg in sorted(args.items(), key=lambda kv: int(kv[0].rsplit("_", 1)[1]))]
    for key in ("resps", "filtered_resps"):
        out[key] = _walk(sample.get(key, []))
    return out


def _walk(value: Any) -> Any:
    """`sanitize_list` wrote each (log-likelihood, is_greedy) pair as two strings; read them back as numbers."""
    if isinstance(value, list) and len(value) == 2 and value[1] in ("True", "False") and isinstance(value[0], str):
        return [float(value[0]), value[1] == "True"]
    return [_walk(v) for v in value] if isinstance(value, list) else value


def read_lmeval_folder(folder: str | Path) -> LmEvalFolder:
    """The newest `results_*.json` under `folder` (lm-eval's `get_latest_filename`) and its samples files.

    Raises:
        HarnessError: no results file in the folder, or one that is not lm-eval's JSON.
    """
    from lm_eval.utils import (
        get_file_datetime,
        get_file_task_name,
        get_latest_filename,
        get_results_filenames,
        get_sample_results_filenames,
    )

    files = [str(p) for p in sorted(Path(folder).rglob("*.json*"))]
    found = get_results_filenames(files)
    if not found:
        raise HarnessError(f"no lm-eval results_*.json under {folder}",
                           hint="pass the --output_path folder of an `lm_eval ... --log_samples` run")
    latest = get_latest_filename(found)
    try:
        results = json.loads(Path(latest).read_text())
        stamp = get_file_datetime(latest).removesuffix(".json")
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{latest} is not an lm-eval results file ({exc})", hint="check the folder") from exc
    samples: dict[str, list[dict[str, Any]]] = {}
    for name in get_sample_results_filenames(files):
        if Path(name).parent == Path(latest).parent and get_file_datetime(name) == stamp:
            lines = Path(name).read_text().splitlines()
            samples[get_file_task_name(Path(name).name)] = [_from_file(json.loads(line)) for line in lines if line]
    return LmEvalFolder(Path(latest), results, samples)


def _task_results(folder: LmEvalFolder, import_key: str) -> list[TaskResult]:
    scores = parse_scores(folder.results)
    shots = folder.results.get("n-shot", {})
    out = []
    for task in folder.results.get("results", {}):
        members = [task, *folder.results.get("group_subtasks", {}).get(task, [])]
        config = folder.results.get("configs", {}).get(task, {})
        out.append(TaskResult(
            task=task, task_hash=content_hash({"lm_eval_config": config}),
            eval_key=content_hash({"import": import_key, "task": task}), num_fewshot=shots.get(task),
            scores=[s for s in scores if s.task == task],
            samples=parse_samples(task, sorted(folder.samples.get(task, []), key=lambda s: s["doc_id"])),
            members=members))
    return out


def import_lmeval_folder(store: Store, folder: str | Path, model: ModelRecord) -> tuple[str, bool]:
    """Store an lm-eval output folder as a finished run of `model`; (run id, whether it was already imported)."""
    read = read_lmeval_folder(folder)
    import_key = content_hash({"file": read.results_file.read_text(), "model": model.fingerprint})
    tasks = _task_results(read, import_key)
    if (done := find_task_results(store, [t.eval_key for t in tasks])) and len(done) == len(tasks):
        return next(iter(done.values())), True
    config = read.results.get("config", {})
    model_id = upsert_model(store, model)
    run_id = new_run_id()
    claim(store, [run_key(run_id)], "run", run_id=run_id)
    versions = {"lm_eval": str(read.results.get("lm_eval_version")),
                "transformers": str(read.results.get("transformers_version"))}
    create_run(store, model_id, {
        "suite": None, "tasks": [{"task": t.task, "num_fewshot": t.num_fewshot} for t in tasks],
        "config": {"imported_from": str(read.results_file), "lm_eval_config": config},
        "config_hash": content_hash(config), "backend": str(config.get("model", "lm-eval")),
        "chat_template": read.results.get("chat_template") and "imported",
        "chat_template_hash": read.results.get("chat_template_sha"), "versions": versions,
        "git_revision": read.results.get("git_hash"),
    }, run_id=run_id)
    for task in tasks:
        write_task_result(store, run_id, task)
    finish_run(store, run_id, "finished")
    release(store, [run_key(run_id)])
    return run_id, False


def imported_model(folder: str | Path, name: str | None) -> ModelRecord:
    """The model a folder names (its `model_name`/`model_args`), fingerprinted by that name when no checkpoint is
    given."""
    results = read_lmeval_folder(folder).results
    source = str(results.get("model_name") or results.get("config", {}).get("model_args") or "unknown")
    return ModelRecord(name=name or source, source=source, kind="external",
                       fingerprint=content_hash({"lm_eval_model": source, "args": results.get("config", {})}))
