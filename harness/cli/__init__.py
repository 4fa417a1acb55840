"""The `harness` command: a thin typer shell over the Python API. Each command parses, calls one function, renders.

Exit codes: 0 ok, 1 gate regression, 2 usage/config error, 3 failure at run time.
Human output (rich tables) goes to stdout, logs and progress to stderr; `--json` prints one JSON document.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from harness.console import configure_logging, render_error, stdout
from harness.errors import HarnessError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(pretty_exceptions_show_locals=False, no_args_is_help=True, add_completion=False,
                  help="Evaluate, judge, rate and gate fine-tuned LLaMA-family checkpoints.")
runs_app = typer.Typer(no_args_is_help=True, help="Browse the runs in the store.")
app.add_typer(runs_app, name="runs")

# Options shared by several commands, defined once.
StoreOpt = Annotated[str | None, typer.Option("--store", envvar="HARNESS_STORE",
                                              help="Store URL or SQLite path [default: results/harness.db].")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]
SkipBadOpt = Annotated[bool, typer.Option("--skip-bad", help="Skip (and count) malformed rows.")]


def handled(func: F) -> F:
    """Turn a `HarnessError` into its one-line message and exit code (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HarnessError as exc:
            render_error(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            render_error("interrupted", "re-run the same command to resume")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def print_json(document: Any) -> None:
    """Exactly one JSON document on stdout."""
    typer.echo(json.dumps(document, indent=2, default=str))


@app.callback()
def main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging on stderr.")] = False,
) -> None:
    """harness: evaluation, judge battles, arena ratings, fine-tuning and regression gates in one store."""
    configure_logging(quiet=quiet, verbose=verbose)


@app.command("eval")
@handled
def eval_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Checkpoint dir, hub id, PEFT adapter dir or API model name.")],
    suite: Annotated[str | None, typer.Option(help="Suite from tasks/suites/ (smoke, open_llm_v1, ...).")] = None,
    tasks: Annotated[str | None, typer.Option(help="Comma-separated lm-eval task names.")] = None,
    backend: Annotated[str, typer.Option(help="hf | vllm | local-completions.")] = "hf",
    base_url: Annotated[str | None, typer.Option(help="Endpoint for local-completions.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N documents per task.")] = None,
    num_fewshot: Annotated[int | None, typer.Option(help="Few-shot examples for every task.")] = None,
    batch_size: Annotated[str | None, typer.Option(help="auto or an integer [default: 16 on CPU, auto on GPU].")] = None,
    device: Annotated[str, typer.Option(help="cpu | cuda | cuda:N.")] = "cpu",
    dtype: Annotated[str, typer.Option(help="auto | float32 | bfloat16 | float16.")] = "auto",
    chat_template: Annotated[str | None, typer.Option(help="alpaca | vicuna | tokenizer | FILE.jinja.")] = None,
    name: Annotated[str | None, typer.Option(help="Store the model under this name.")] = None,
    trust_remote_code: Annotated[bool, typer.Option(help="Let the model repo run its own code.")] = False,
    force: Annotated[bool, typer.Option(help="Re-run tasks the store already has.")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run lm-eval tasks on a model; finished tasks are served from the store."""
    from harness.cli.render import scores_table
    from harness.config import EvalConfig
    from harness.eval.evaluate import run_eval

    config = _validated(EvalConfig, model=model, name=name, suite=suite,
                        tasks=[t.strip() for t in tasks.split(",") if t.strip()] if tasks else [],
                        backend=backend, base_url=base_url, limit=limit, num_fewshot=num_fewshot,
                        batch_size=batch_size, device=device, dtype=dtype, chat_template=chat_template,
                        trust_remote_code=trust_remote_code, force=force)
    outcome = run_eval(config, store)
    if as_json:
        print_json(outcome.to_json())
    else:
        stdout.print(scores_table(outcome))


def _validated(model_cls: Any, **values: Any) -> Any:
    from pydantic import ValidationError

    try:
        return model_cls(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise HarnessError(f"bad value for --{'-'.join(map(str, err['loc']))}: {err['msg']}") from None


@app.command("tiny-model")
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
    from harness.cli.render import runs_table
    from harness.store import open_store
    from harness.store.runs import list_runs

    rows = list_runs(open_store(store), limit)
    if as_json:
        print_json({"runs": rows})
    else:
        stdout.print(runs_table(rows))


@runs_app.command("show")
@handled
def runs_show_command(run_id: Annotated[str, typer.Argument(help="A run id (r-...).")],
                      store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Show one run: config, versions, status and scores."""
    from harness.cli.render import run_detail
    from harness.store import open_store
    from harness.store.runs import get_run

    run = get_run(open_store(store), run_id)
    if run is None:
        raise HarnessError(f"no run {run_id!r} in the store", hint="list runs with `harness runs list`")
    if as_json:
        print_json(run)
    else:
        stdout.print(run_detail(run))


baseline_app = typer.Typer(no_args_is_help=True, help="Pin runs as named baselines for `harness gate`.")
app.add_typer(baseline_app, name="baseline")
RefOpt = Annotated[str, typer.Option(help="Run id, model name (its newest finished run) or pinned baseline name.")]


@app.command("gate")
@handled
def gate_command(
    candidate: RefOpt,
    baseline: RefOpt,
    suite: Annotated[str | None, typer.Option(help="Gate on these suite tasks (default: the baseline run's).")] = None,
    tasks: Annotated[list[str] | None, typer.Option(help="Task names (repeat or comma-separate).")] = None,
    alpha: Annotated[float, typer.Option(help="Family-wise significance level (Holm).")] = 0.05,
    max_drop: Annotated[float, typer.Option(help="Tolerated absolute drop, in metric units (0.02 = 2 points).")] = 0.0,
    max_rating_drop: Annotated[float, typer.Option(help="Tolerated arena BT rating drop, in points.")] = 0.0,
    metric_direction_file: Annotated[Path | None, typer.Option(help="YAML: directions {metric: higher|lower}, "
                                                                    "primary {task: metric}.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY).")] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML, one test case per task.")] = None,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Exit 1 when the candidate is significantly worse than the baseline, 0 when not, 2 when it cannot decide."""
    from harness.gate.decide import GateConfig, run_gate
    from harness.gate.report import render_text, write_gate_files

    names = [t.strip() for value in tasks or [] for t in value.split(",") if t.strip()]
    try:
        config = _validated(GateConfig, candidate=candidate, baseline=baseline, suite=suite, tasks=names,
                            alpha=alpha, max_drop=max_drop, max_rating_drop=max_rating_drop, seed=seed,
                            metric_direction_file=metric_direction_file)
        report = run_gate(config, store)
    except HarnessError as exc:
        write_gate_files(markdown, junit, exc)
        if as_json:
            print_json({"verdict": "error", "exit_code": exc.exit_code, "reason": exc.message, "hint": exc.hint})
        raise
    write_gate_files(markdown, junit, report)
    if as_json:
        print_json(report.to_json())
    else:
        stdout.print(render_text(report), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(report.exit_code)


@baseline_app.command("set")
@handled
def baseline_set_command(name: Annotated[str, typer.Argument(help="Baseline name, e.g. main.")],
                         ref: Annotated[str, typer.Argument(help="Run id, model name or another baseline name.")],
                         store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Pin NAME to the run REF resolves to now (a model name means its newest finished run)."""
    from harness.store.baselines import pin_baseline

    pinned = pin_baseline(name, ref, store)
    if as_json:
        print_json({"name": name, "run_id": pinned.run_id, "model": pinned.model, "via": pinned.via})
    else:
        stdout.print(f"baseline {name} → run {pinned.run_id} ({pinned.model}, from {pinned.via})", markup=False)


@baseline_app.command("list")
@handled
def baseline_list_command(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List pinned baselines."""
    from rich.table import Table

    from harness.store import open_store
    from harness.store.baselines import list_baselines

    pins = list_baselines(open_store(store))
    if as_json:
        print_json({"baselines": [{"name": b.name, "run_id": b.run_id, "updated_at": b.updated_at} for b in pins]})
        return
    table = Table(title="baselines")
    for column in ("name", "run", "updated"):
        table.add_column(column)
    for b in pins:
        table.add_row(b.name, b.run_id, str(b.updated_at or "")[:19])
    stdout.print(table)


@app.command("leaderboard")
@handled
def leaderboard_command(
    store: StoreOpt = None,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    address: Annotated[str, typer.Option(help="Address to bind (0.0.0.0 to share on the network).")] = "127.0.0.1",
) -> None:
    """Serve the Streamlit leaderboard on the store (read-only); same as `streamlit run leaderboard_app/app.py`."""
    import os

    from harness.store import open_store, resolve_store_url
    from leaderboard_app import streamlit_command

    url = resolve_store_url(store)
    shown = open_store(url, readonly=True).url  # fail here, with the hint; shown has the password masked
    stdout.print(f"leaderboard on http://{address}:{port} (store {shown}); Ctrl-C stops it", markup=False)
    command = streamlit_command(None, port, address)
    # Become streamlit (signals reach it, no orphan); the URL goes by environment so no password shows in ps.
    os.execve(command[0], command, {**os.environ, "HARNESS_STORE": url})


# --- generate and judge (issue 3) ---------------------------------------------------------------------------

judge_app = typer.Typer(help="Judge stored answers pairwise (both orders) or one by one; import, results, agreement.")
app.add_typer(judge_app, name="judge")


@app.command("generate")
@handled
def generate_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Checkpoint dir, hub id, adapter dir or served model name.")],
    questions: Annotated[str, typer.Option(help="Question set (arith, general) or a question.jsonl path.")],
    backend: Annotated[str, typer.Option(help="hf | vllm | local-chat-completions.")] = "hf",
    base_url: Annotated[str | None, typer.Option(help="Chat server base URL for local-chat-completions.")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per answer turn.")] = 256,
    chat_template: Annotated[str | None, typer.Option(help="alpaca | vicuna | tokenizer | FILE.jinja.")] = None,
    name: Annotated[str | None, typer.Option(help="Store the answers under this model name.")] = None,
    batch_size: Annotated[int, typer.Option(help="Prompts per batch (hf/vllm).")] = 16,
    device: Annotated[str, typer.Option(help="cpu | cuda | cuda:N.")] = "cpu",
    force: Annotated[bool, typer.Option(help="Generate again even when stored.")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer an open-ended question set (turn by turn, chat-templated); stored answers are skipped."""
    from harness.generate import GenerateConfig, run_generate

    config = _validated(GenerateConfig, model=model, name=name, questions=questions, backend=backend,
                        base_url=base_url, max_new_tokens=max_new_tokens, chat_template=chat_template,
                        batch_size=batch_size, device=device, force=force)
    outcome = run_generate(config, store)
    if as_json:
        print_json(outcome.to_json())
    else:
        stdout.print(f"{outcome.model}: {outcome.generated} answers generated, {outcome.cached} already stored "
                     f"({outcome.question_set}, template {outcome.chat_template})", markup=False)


def _price_pair(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 2:
        raise HarnessError(f"bad --price-per-mtok {text!r}", hint="two numbers: IN,OUT, e.g. 2.5,10")
    return values[0], values[1]


@judge_app.callback(invoke_without_command=True)
@handled
def judge_command(
    ctx: typer.Context,
    models: Annotated[str | None, typer.Option(help="Comma-separated model names (as generated).")] = None,
    questions: Annotated[str | None, typer.Option(help="Question set or file the answers are for.")] = None,
    judge: Annotated[str | None, typer.Option(envvar="HARNESS_JUDGE", help="Judge model; none: offline judge.")] = None,
    judge_base_url: Annotated[str | None, typer.Option(envvar="HARNESS_JUDGE_BASE_URL",
                                                       help="OpenAI-compatible base URL.")] = None,
    judge_api_key_env: Annotated[str, typer.Option(help="Variable holding the API key.")] = "OPENAI_API_KEY",
    mode: Annotated[str, typer.Option(help="pairwise-all | pairwise-baseline | single.")] = "pairwise-all",
    baseline: Annotated[str | None, typer.Option(help="Baseline model for pairwise-baseline.")] = None,
    concurrency: Annotated[int, typer.Option(help="Judge calls in flight.")] = 16,
    max_cost: Annotated[float | None, typer.Option(help="Stop starting calls after this many USD.")] = None,
    price_per_mtok: Annotated[str | None, typer.Option(help="IN,OUT USD per million tokens.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Judge answers of --models on --questions (both answer orders); writes judgments and battles."""
    if ctx.invoked_subcommand is not None:
        return
    from harness.cli.judge_render import judge_summary
    from harness.judge.plan import JudgeConfig
    from harness.judge.run import run_judge

    if not models or not questions:
        raise HarnessError("harness judge needs --models A,B and --questions SET",
                           hint="or a subcommand: import, results, agreement (see harness judge --help)")
    price = _price_pair(price_per_mtok)
    config = _validated(JudgeConfig, models=[m.strip() for m in models.split(",") if m.strip()],
                        questions=questions, judge=judge, judge_base_url=judge_base_url,
                        judge_api_key_env=judge_api_key_env, mode=mode, baseline=baseline,
                        concurrency=concurrency, max_cost=max_cost, price_per_mtok=price)
    doc = run_judge(config, store).to_json()
    print_json(doc) if as_json else stdout.print(judge_summary(doc))


@judge_app.command("import")
@handled
def judge_import_command(
    file: Annotated[Path, typer.Argument(help="Judgment or battle file (or a PRD ratings / Vicuna-80 folder).")],
    format: Annotated[str | None, typer.Option("--format", help="clean-battle | fastchat-pair | fastchat-single | "
                                               "fastchat-votes | vicuna-review | prd | alpaca-eval | llmfao "
                                               "[default: detect].")] = None,
    skip_bad: SkipBadOpt = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import existing judgments as battles (and grades), so they are not paid for twice."""
    from dataclasses import asdict

    from harness.judge.imports import import_judgments

    outcome = import_judgments(file, format, store, skip_bad)
    if as_json:
        print_json(asdict(outcome))
    else:
        stdout.print(f"{outcome.format}: {outcome.battles_written} new battles of {outcome.battles_read} read, "
                     f"{outcome.judgments_written} grades, {outcome.dropped} error rows dropped; "
                     f"judges {', '.join(outcome.judges)}", markup=False)


@judge_app.command("results")
@handled
def judge_results_command(
    mode: Annotated[str, typer.Option(help="pairwise-all | pairwise-baseline | single.")] = "pairwise-all",
    judge: Annotated[str | None, typer.Option(help="One judge [default: every judge].")] = None,
    baseline: Annotated[str | None, typer.Option(help="Baseline model for pairwise-baseline.")] = None,
    questions: Annotated[str | None, typer.Option(help="Only this question set (name).")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Win/loss/tie and win rates per model (FastChat's counting), or mean 1-10 grades per turn."""
    from harness.cli.judge_render import results_report_tables
    from harness.judge.results import results_report
    from harness.store import open_store

    doc = results_report(open_store(store), judge, mode, baseline, questions)
    print_json(doc) if as_json else stdout.print(results_report_tables(doc))


@judge_app.command("agreement")
@handled
def judge_agreement_command(
    judge: Annotated[str, typer.Option(help="The judge to check.")],
    against: Annotated[str, typer.Option(help="human, or another judge's name.")] = "human",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Agreement with humans or another judge (with and without ties), and position consistency."""
    from harness.cli.judge_render import agreement_table
    from harness.judge.results import agreement_report
    from harness.store import open_store

    doc = agreement_report(open_store(store), judge, against)
    print_json(doc) if as_json else stdout.print(agreement_table(doc))


@app.command("arena")
@handled
def arena_command(
    battles: Annotated[Path | None, typer.Option("--battles", help="clean_battle JSON/JSONL, or any file "
                                                 "`harness judge import` reads (stored too).")] = None,
    from_store: Annotated[bool, typer.Option("--from-store", help="Rate the battles in the store.")] = False,
    method: Annotated[str, typer.Option(help="bt | elo | both.")] = "both",
    bootstrap: Annotated[int, typer.Option(help="Bootstrap rounds for the BT CIs (0: none).")] = 1000,
    anchor: Annotated[str | None, typer.Option(help="MODEL=RATING: pin one model's rating.")] = None,
    category: Annotated[str | None, typer.Option(help="Only battles of this category.")] = None,
    control: Annotated[str | None, typer.Option(help="Style control covariates: length,markdown.")] = None,
    skip_bad: SkipBadOpt = False,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rate models from battles: online Elo and Bradley-Terry with bootstrap CIs and rank ranges."""
    from harness.arena.ratings import ArenaConfig
    from harness.arena.run import arena_table, parse_anchor, run_arena

    config = _validated(ArenaConfig, method=method, bootstrap=bootstrap, seed=seed, anchor=parse_anchor(anchor),
                        control=tuple(c.strip() for c in (control or "").split(",") if c.strip()))
    outcome = run_arena(config, battles, from_store, category, skip_bad, store)
    if as_json:
        print_json(outcome.to_json())
    else:
        stdout.print(arena_table(outcome.report))


@app.command("finetune")
@handled
def finetune_command(
    recipe: Annotated[str, typer.Option(help="alpaca | alpaca-lora | vicuna | vicuna-lora | RECIPE.yaml.")],
    base: Annotated[str, typer.Option(help="Base model directory (safetensors + tokenizer).")],
    data: Annotated[str, typer.Option(help="Training data: JSON/JSONL file or folder, in the recipe's format.")],
    out: Annotated[str, typer.Option(help="Output directory: the model, harness.json and checkpoints/.")],
    epochs: Annotated[float | None, typer.Option(help="Override num_epochs.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Override max_steps.")] = None,
    lr: Annotated[float | None, typer.Option(help="Override learning_rate.")] = None,
    max_len: Annotated[int | None, typer.Option(help="Override max_length.")] = None,
    packing: Annotated[bool | None, typer.Option("--packing/--no-packing", help="Override packing.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in OUT/checkpoints.")] = False,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Any recipe key: key=value (repeat).")] = None,
    skip_bad: Annotated[bool, typer.Option(help="Skip and count malformed records.")] = False,
    name: Annotated[str | None, typer.Option(help="Register the model under this name [default: OUT].")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fine-tune a base model with a recipe (full or LoRA); print the resolved config; register the model."""
    from fine_tune.config import parse_overrides
    from fine_tune.sft import FinetuneRequest, resolve, run_finetune

    flags = {"num_epochs": epochs, "max_steps": max_steps, "learning_rate": lr, "max_length": max_len,
             "packing": packing}
    merged = {**parse_overrides(overrides or []), **{k: v for k, v in flags.items() if v is not None}}
    request = _validated(FinetuneRequest, recipe=recipe, base=base, data=data, out=out, overrides=merged,
                         resume=resume, skip_bad=skip_bad, name=name)
    if not as_json:
        stdout.print_json(json.dumps(resolve(request).model_dump(mode="json")))
    result = run_finetune(request, store)
    if as_json:
        print_json(result.to_json())
    else:
        summary = result.to_json()
        stdout.print(f"{'found' if result.cached else 'wrote'} {result.out_dir} ({result.recipe.name}, "
                     f"{summary['steps']} steps, final loss {summary['final_loss']})")


@app.command("self-instruct")
@handled
def self_instruct_command(
    seed_tasks: Annotated[str, typer.Option(help="Seed tasks: seed_tasks.jsonl (self-instruct) or Alpaca JSON.")],
    num: Annotated[int, typer.Option(help="Instructions the output should end up with.")],
    out: Annotated[str, typer.Option(help="Alpaca JSON file to write (re-run to resume).")],
    model: Annotated[str, typer.Option(help="Model name at the endpoint.")] = "gpt-3.5-turbo",
    base_url: Annotated[str | None, typer.Option(envvar="OPENAI_BASE_URL", help="OpenAI-compatible …/v1 URL.")] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.")] = 8,
    prompt_price: Annotated[float, typer.Option(help="USD per 1M prompt tokens (cost estimate).")] = 0.0,
    completion_price: Annotated[float, typer.Option(help="USD per 1M completion tokens.")] = 0.0,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Generate Alpaca-format instructions with an OpenAI-compatible model (self-instruct), filtered for novelty."""
    from fine_tune.self_instruct import SelfInstructConfig, run_self_instruct

    config = _validated(SelfInstructConfig, seed_tasks=seed_tasks, num=num, out=out, model=model, base_url=base_url,
                        concurrency=concurrency, prompt_price=prompt_price, completion_price=completion_price,
                        seed=seed)
    result = run_self_instruct(config)
    if as_json:
        print_json(result.to_json())
    else:
        stdout.print(f"{result.total} instructions in {result.out} (+{result.added}); "
                     f"{result.progress.requests} requests, rejected {dict(result.progress.rejected)}, "
                     f"${result.cost_usd:.4f}")


@app.command("demo")
@handled
def demo_command(
    store: StoreOpt = None,
    out_dir: Annotated[Path, typer.Option(help="Where the demo's models and data go.")] = Path("results/demo"),
    limit: Annotated[int | None, typer.Option(help="Documents per task (default: all 200).")] = None,
) -> None:
    """The whole loop on a CPU: tiny model, fine-tunes, eval, judge, arena, gate, leaderboard."""
    from harness.demo import run_demo

    run_demo(store, out_dir, limit)
