"""`harness eval`, `harness runs list|show` and `harness tiny-model`: parse, call `eval`, render the tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table

from harness.cli.options import (
    BaseUrlOpt,
    BatchSizeOpt,
    ChatTemplateOpt,
    CpusPerUnitOpt,
    DeviceOpt,
    DtypeOpt,
    ExecutorOpt,
    ForceOpt,
    GpusPerUnitOpt,
    JsonOpt,
    ModelsOpt,
    NameOpt,
    RayAddressOpt,
    RetriesOpt,
    SeedOpt,
    StoreOpt,
    TasksOpt,
    handled,
    print_json,
    split_list,
    validated,
)
from harness.console import stdout
from harness.errors import HarnessError
from harness.fingerprint import short

runs_app = typer.Typer(no_args_is_help=True, help="Browse the runs in the store.")


@handled
def eval_command(
    model: ModelsOpt,
    suite: Annotated[str | None, typer.Option(help="Suite from tasks/suites/ (smoke, open_llm_v1, ...).")] = None,
    tasks: TasksOpt = None,
    backend: Annotated[str, typer.Option(help="hf | vllm | local-completions | local-chat-completions.")] = "hf",
    base_url: BaseUrlOpt = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N documents per task.")] = None,
    num_fewshot: Annotated[int | None, typer.Option(help="Few-shot examples for every task.")] = None,
    batch_size: BatchSizeOpt = None,
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "auto",
    chat_template: ChatTemplateOpt = None,
    system_instruction: Annotated[str | None, typer.Option(help="System message before every prompt.")] = None,
    gen_kwargs: Annotated[str | None, typer.Option(
        help="Generation settings for generate_until tasks, as lm-eval's: temperature=0,top_p=0.9.")] = None,
    fewshot_as_multiturn: Annotated[bool | None, typer.Option(
        "--fewshot-as-multiturn/--no-fewshot-as-multiturn",
        help="Few-shot examples as chat turns (default: on with a chat template).")] = None,
    revision: Annotated[str | None, typer.Option(help="Hub revision (branch, tag, commit) of a hub model.")] = None,
    max_length: Annotated[int | None, typer.Option(help="Context length to truncate to (default: the model's).")] = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed for lm-eval's python, numpy, torch and few-shot seeds (default: lm-eval's 0,1234,1234,1234).")] = None,
    name: NameOpt = None,
    trust_remote_code: Annotated[bool, typer.Option(metavar="", help="Let the model repo run its own code.")] = False,
    force: ForceOpt = False,
    tensor_parallel_size: Annotated[int, typer.Option(help="vllm: GPUs per model replica.")] = 1,
    data_parallel_size: Annotated[int, typer.Option(help="vllm: model replicas (one Ray actor each).")] = 1,
    gpu_memory_utilization: Annotated[float | None, typer.Option(help="vllm: share of GPU memory to use.")] = None,
    max_model_len: Annotated[int | None, typer.Option(help="vllm: context length for the KV cache.")] = None,
    parallelize: Annotated[bool, typer.Option(help="hf: shard the model over all visible GPUs.")] = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    gpus_per_unit: GpusPerUnitOpt = None,
    cpus_per_unit: CpusPerUnitOpt = 1.0,
    retries: RetriesOpt = 2,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run lm-eval tasks on one or more models; finished tasks are served from the store."""
    from harness.eval.config import EvalConfig
    from harness.eval.evaluate import run_eval

    config = validated(EvalConfig, model=model[0], name=name, suite=suite, tasks=split_list(tasks), backend=backend,
                       base_url=base_url, limit=limit, num_fewshot=num_fewshot, batch_size=batch_size,
                       device=device, dtype=dtype, chat_template=chat_template, system_instruction=system_instruction,
                       gen_kwargs=gen_kwargs, fewshot_as_multiturn=fewshot_as_multiturn, revision=revision,
                       max_length=max_length, seed=seed, trust_remote_code=trust_remote_code, force=force,
                       tensor_parallel_size=tensor_parallel_size, data_parallel_size=data_parallel_size,
                       gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
                       parallelize=parallelize)
    if executor != "local" or len(model) > 1:
        return scale_out(config, model, executor, store, as_json, address=ray_address, gpus_per_unit=gpus_per_unit,
                         cpus_per_unit=cpus_per_unit, retries=retries)
    outcome = run_eval(config, store)
    if not outcome.written:  # a rank other than 0 of a distributed launch: rank 0 reports
        return None
    if as_json:
        print_json(outcome.to_json())
    else:
        stdout.print(scores_table(outcome))
    return None


def scale_out(config: Any, models: list[str], executor: str, store: str | None, as_json: bool,
              **cluster: Any) -> None:
    """`harness eval` over several models, or on Ray: one report row per (model, task) unit."""
    from harness.errors import RunFailed
    from harness.eval.executors import ClusterOptions, run_locally, run_on_cluster

    if executor not in ("local", "ray"):
        raise HarnessError(f"unknown executor {executor!r}", hint="use --executor local or --executor ray")
    if executor == "ray":
        from harness.eval.ray_executor import run_units

        report = run_on_cluster(config, models, ClusterOptions(**cluster), store, run_units)
    else:
        report = run_locally(config, models, store)
    if as_json:
        print_json(report.to_json())
    else:
        stdout.print(units_table(report))
    if report.count("failed"):
        raise RunFailed(f"{report.count('failed')} of {len(report.units)} unit(s) failed",
                        hint="see the errors above; re-run the same command to retry them")


@handled
def tiny_model_command(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write the model to.")],
    seed: SeedOpt = 0,
    hidden: Annotated[int, typer.Option(help="Hidden size.")] = 128,
    layers: Annotated[int, typer.Option(help="Decoder layers.")] = 4,
) -> None:
    """Build a tiny LLaMA-architecture model and a trained tokenizer (safetensors, no download)."""
    from harness.eval.tiny import make_tiny_model

    tiny = make_tiny_model(out_dir, seed=seed, hidden=hidden, layers=layers)
    stdout.print(f"wrote {tiny.path} ({tiny.n_params:,} parameters)")


@runs_app.command("list")
@handled
def runs_list_command(store: StoreOpt = None, as_json: JsonOpt = False,
                      limit: Annotated[int | None, typer.Option(help="Newest N runs.")] = None) -> None:
    """List runs, newest first."""
    from harness.store import open_store
    from harness.store.runs import list_runs

    rows = list_runs(open_store(store, create=False), limit)
    if as_json:
        print_json({"runs": rows})
    else:
        stdout.print(runs_table(rows))


@runs_app.command("show")
@handled
def runs_show_command(run_id: Annotated[str, typer.Argument(help="A run id (r-...).")],
                      store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Show one run: config, versions, status and scores."""
    from harness.store import open_store
    from harness.store.runs import get_run

    opened = open_store(store, create=False)
    run = get_run(opened, run_id)
    if run is None:
        raise HarnessError(f"no run {run_id!r} in the store", hint="list runs with `harness runs list`")
    if run["suite"] == "open_llm_v2":
        from harness.eval.rescore import open_llm_v2_for_run

        run["open_llm_v2"] = open_llm_v2_for_run(opened, run_id)
    if as_json:
        print_json(run)
    else:
        stdout.print(run_detail(run))


@runs_app.command("export")
@handled
def runs_export_command(run_id: Annotated[str, typer.Argument(help="A run id (r-...).")],
                        out_dir: Annotated[Path, typer.Argument(help="Folder to write lm-eval's files under.")],
                        fmt: Annotated[str, typer.Option("--format", help="lm-eval (the only format).")] = "lm-eval",
                        store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Write a run as lm-eval's output folder: results_*.json and samples_*.jsonl."""
    from harness.eval.lmeval_files import export_run
    from harness.store import open_store

    if fmt != "lm-eval":
        raise HarnessError(f"unknown export format {fmt!r}", hint="use --format lm-eval")
    path = export_run(open_store(store, create=False), run_id, out_dir)
    files = sorted(str(p) for p in path.parent.glob(f"*{path.stem.removeprefix('results')}.json*"))
    if as_json:
        print_json({"run_id": run_id, "results": str(path), "files": files})
    else:
        stdout.print(f"wrote {len(files)} files to {path.parent} (results: {path.name})")


@runs_app.command("import")
@handled
def runs_import_command(folder: Annotated[Path, typer.Argument(help="An `lm_eval --output_path` folder.")],
                        model: Annotated[str | None, typer.Option(
                            help="The checkpoint it evaluated: the run is stored under its fingerprint.")] = None,
                        name: NameOpt = None, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Store results written by the lm_eval CLI (--log_samples) as a finished run."""
    from harness.eval.backends import resolve_model
    from harness.eval.config import EvalConfig
    from harness.eval.lmeval_files import import_lmeval_folder, imported_model
    from harness.store import open_store

    record = resolve_model(EvalConfig(model=model, name=name)).record if model else imported_model(folder, name)
    run_id, existed = import_lmeval_folder(open_store(store), folder, record)
    if as_json:
        print_json({"run_id": run_id, "model": {"name": record.name, "fingerprint": record.fingerprint},
                    "already_imported": existed})
    else:
        stdout.print(f"{'already imported as' if existed else 'imported as'} run {run_id} ({record.name})")


@handled
def rescore_command(run_id: Annotated[str, typer.Argument(help="A run id (r-...).")],
                    store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Recompute a run's metrics from its stored samples with lm-eval's task code (no model)."""
    from dataclasses import asdict

    from harness.eval.rescore import rescore_run
    from harness.store import open_store

    rows = rescore_run(open_store(store, create=False), run_id)
    if as_json:
        print_json({"run_id": run_id, "scores": [{**asdict(r), "equal": r.equal} for r in rows]})
        return
    table = Table(title=f"run {run_id}: stored vs recomputed from samples")
    for column in ("task", "metric", "filter", "stored", "recomputed", "n", "equal"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.task, r.metric, r.filter, _fmt(r.stored), _fmt(r.recomputed), str(r.n), str(r.equal))
    stdout.print(table)


def _fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def scores_table(outcome: Any) -> Table:
    """task × metric × value ± stderr for one eval outcome."""
    source = "from the store" if outcome.cached else "computed"
    table = Table(title=f"{outcome.model_name} [{short(outcome.fingerprint)}] run {outcome.run_id} ({source})")
    for column in ("task", "metric", "filter", "value", "± stderr", "n"):
        table.add_column(column, justify="right" if column in ("value", "± stderr", "n") else "left")
    for s in outcome.scores:
        table.add_row(s.task, s.metric, s.filter, _fmt(s.value), _fmt(s.stderr), str(s.n or ""))
    return table


def units_table(report: Any) -> Table:
    """One line per (model, task) unit: status, run and the unit's first scores."""
    table = Table(title=f"{len(report.units)} unit(s) on the {report.executor} executor, {report.submitted} run")
    for column in ("model", "task", "status", "run", "scores / error"):
        table.add_column(column)
    for u in report.units:
        shown = u.error or ", ".join(f"{s.task} {s.metric} {_fmt(s.value)}" for s in u.scores[:4])
        table.add_row(u.model, u.task, u.status, u.run_id or "", shown)
    return table


def runs_table(rows: list[dict[str, Any]]) -> Table:
    """One line per run."""
    table = Table(title="runs")
    for column in ("run", "model", "suite/tasks", "backend", "status", "started", "finished"):
        table.add_column(column)
    for r in rows:
        tasks = r["suite"] or ",".join(t["task"] for t in r["tasks"])
        table.add_row(r["id"], r["model"], tasks, r["backend"], r["status"],
                      str(r["started_at"])[:19], str(r["finished_at"] or "")[:19])
    return table


def run_detail(run: dict[str, Any]) -> Group:
    """A run's metadata and its scores."""
    meta = Table(show_header=False, title=f"run {run['id']}")
    for key in ("model", "model_fingerprint", "status", "error", "suite", "backend", "chat_template",
                "chat_template_hash", "git_revision", "started_at", "finished_at"):
        if run.get(key) is not None:  # no `error │ None` for a run that did not fail
            meta.add_row(key, str(run[key]))
    meta.add_row("versions", json.dumps(run["versions"]))
    if "open_llm_v2" in run:
        meta.add_row("open_llm_v2", json.dumps(run["open_llm_v2"]))
    meta.add_row("config", json.dumps(run["config"]))
    scores = Table(title="scores")
    for column in ("task", "metric", "filter", "value", "± stderr", "n"):
        scores.add_column(column)
    for s in run["scores"]:
        scores.add_row(s["task"], s["metric"], s["filter"], _fmt(s["value"]), _fmt(s["stderr"]), str(s["n"] or ""))
    return Group(meta, scores)
