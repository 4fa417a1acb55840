"""`harness generate` and `harness judge [import|results|agreement]`: parse, call `generate`/`judge`, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from harness.cli.judge_tables import fmt
from harness.cli.options import (
    BaseUrlOpt,
    BatchSizeOpt,
    ChatTemplateOpt,
    CpusPerUnitOpt,
    DeviceOpt,
    ExecutorOpt,
    ForceOpt,
    GpusPerUnitOpt,
    JsonOpt,
    ModelsOpt,
    NameOpt,
    RayAddressOpt,
    RetriesOpt,
    SkipBadOpt,
    StoreOpt,
    handled,
    print_json,
    split_list,
    validated,
)
from harness.console import render_error, render_warning, stdout
from harness.errors import EXIT_BUDGET, HarnessError

judge_app = typer.Typer(help="Judge stored answers pairwise (both orders) or one by one; import, results, agreement.")


@handled
def generate_command(
    model: ModelsOpt,
    questions: Annotated[str, typer.Option(help="Question set (arith, general) or a question.jsonl path.")],
    backend: Annotated[str, typer.Option(help="hf | vllm | local-chat-completions.")] = "hf",
    base_url: BaseUrlOpt = None,
    api_key_env: Annotated[str, typer.Option(help="Variable holding the chat server's API key.")] = "OPENAI_API_KEY",
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per answer turn.")] = 256,
    chat_template: ChatTemplateOpt = None,
    name: NameOpt = None,
    batch_size: BatchSizeOpt = None,
    device: DeviceOpt = "cpu",
    temperatures: Annotated[str, typer.Option(help="greedy | fastchat: FastChat's MT-bench temperature per "
                                              "question category (writing, roleplay 0.7; stem, humanities 0.1; "
                                              "math, coding, reasoning, extraction 0; others 0.7).")] = "greedy",
    force: ForceOpt = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    gpus_per_unit: GpusPerUnitOpt = None,
    cpus_per_unit: CpusPerUnitOpt = 1.0,
    retries: RetriesOpt = 2,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer an open-ended question set (turn by turn, chat-templated) with one or more models; stored answers
    are skipped."""
    from harness.generate import GenerateConfig, run_generate

    sizes = {"batch_size": batch_size} if batch_size else {}
    config = validated(GenerateConfig, model=model[0], name=name, questions=questions, backend=backend,
                       base_url=base_url, api_key_env=api_key_env, max_new_tokens=max_new_tokens, chat_template=chat_template,
                       device=device, force=force, temperatures=temperatures, **sizes)
    if executor != "local" or len(model) > 1:
        return generate_many(config, model, executor, store, as_json, address=ray_address,
                             gpus_per_unit=gpus_per_unit, cpus_per_unit=cpus_per_unit, retries=retries)
    outcome = run_generate(config, store)
    if as_json:
        print_json(outcome.to_json())
    else:
        stdout.print(_generated_line(outcome), markup=False)
    return None


def _generated_line(outcome: Any) -> str:
    return (f"{outcome.model}: {outcome.generated} answers generated, {outcome.cached} already stored "
            f"({outcome.question_set}, template {outcome.chat_template})")


def generate_many(config: Any, models: list[str], executor: str, store: str | None, as_json: bool,
                  **cluster: Any) -> None:
    """`harness generate` over several models, here or on Ray: one line (or JSON entry) per model."""
    from harness.errors import RunFailed
    from harness.eval.executors import ClusterOptions, RunModels, generate_models

    if executor not in ("local", "ray"):
        raise HarnessError(f"unknown executor {executor!r}", hint="use --executor local or --executor ray")
    remote: RunModels | None = None
    if executor == "ray":
        from harness.eval.ray_executor import generate_on_ray as remote
    report = generate_models(config, models, ClusterOptions(**cluster), store, remote)
    if as_json:
        print_json(report.to_json())
    else:
        for outcome in report.outcomes:
            stdout.print(_generated_line(outcome), markup=False)
        for model, error in report.errors.items():
            render_error(f"{model}: {error}", None)
    if report.errors:
        raise RunFailed(f"{len(report.errors)} of {len(models)} model(s) failed", hint="re-run to retry them")


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
    workers: Annotated[int | None, typer.Option(
        help="Processes sharing the calls, each with its own async pool (default: one per 32 calls in flight, "
        "at most one per CPU).")] = None,
    max_cost: Annotated[float | None, typer.Option(
        help="Stop starting calls once this judge has cost this many USD in the store, earlier runs included "
        "(exit code 4).")] = None,
    price_per_mtok: Annotated[str | None, typer.Option(help="IN,OUT USD per million tokens.")] = None,
    prompts: Annotated[str, typer.Option(help="fastchat: FastChat's MT-bench judge prompts (pair-v2, single-v1, "
                                         "their math and multi-turn forms) | harness: the project's own.")] = "fastchat",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Judge answers of --models on --questions (both answer orders); writes judgments and battles."""
    if ctx.invoked_subcommand is not None:
        return
    from harness.judge.plan import JudgeConfig
    from harness.judge.run import run_judge

    if not models or not questions:
        raise HarnessError("harness judge needs --models A,B and --questions SET",
                           hint="or a subcommand: import, results, agreement (see harness judge --help)")
    price = _price_pair(price_per_mtok)
    config = validated(JudgeConfig, models=split_list(models), questions=questions, judge=judge,
                       judge_base_url=judge_base_url, judge_api_key_env=judge_api_key_env, mode=mode,
                       baseline=baseline, concurrency=concurrency, workers=workers, max_cost=max_cost,
                       price_per_mtok=price, prompts=prompts)
    doc = run_judge(config, store).to_json()
    print_json(doc) if as_json else stdout.print(judge_summary(doc))
    raise typer.Exit(judge_exit_code(doc))


def judge_exit_code(doc: dict[str, Any]) -> int:
    """4 when --max-cost stopped the run, 3 when judge calls failed (each says so on stderr), else 0."""
    calls = doc["judgments"]
    if doc["stopped_by_budget"]:
        render_warning(f"stopped at --max-cost: {calls['skipped_budget']} judge calls not made",
                       "re-run with a higher --max-cost to finish; finished calls are kept")
        return EXIT_BUDGET
    if calls["errors"]:
        render_error(f"{calls['errors']} of {calls['called']} judge calls failed (stored as errors, left out of "
                     "the results)", "re-run the same command to retry them")
        return 3
    return 0


@judge_app.command("import")
@handled
def judge_import_command(
    file: Annotated[Path, typer.Argument(help="Judgment or battle file (or a PRD ratings / Vicuna-80 folder).")],
    format: Annotated[str | None, typer.Option("--format", help="clean-battle | fastchat-pair | fastchat-single | "
                                               "fastchat-votes | vicuna-review | prd | alpaca-eval | llmfao | arena-hard "
                                               "(default: detect).")] = None,
    skip_bad: SkipBadOpt = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import existing judgments as battles (and grades), so they are not paid for twice."""
    from dataclasses import asdict

    from harness.arena.sources import listed
    from harness.judge.imports import import_judgments

    outcome = import_judgments(file, format, store, skip_bad)
    if as_json:
        print_json(asdict(outcome))
    else:
        stdout.print(f"{outcome.format}: {outcome.battles_written} new battles of {outcome.battles_read} read, "
                     f"{outcome.judgments_written} grades, {outcome.dropped} error rows dropped; "
                     f"judges {listed(outcome.judges)}", markup=False)


@judge_app.command("results")
@handled
def judge_results_command(
    mode: Annotated[str, typer.Option(help="pairwise-all | pairwise-baseline | single | alpaca-eval (AlpacaEval's "
                                      "columns and length-controlled win rate against --baseline) | score-totals "
                                      "(summed 1-10 scores per pair: the Vicuna-80 reviews) | arena-hard (score "
                                      "vs --baseline with a bootstrap CI).")] = "pairwise-all",
    judge: Annotated[list[str] | None, typer.Option(help="A judge (default: every judge); repeat it in arena-hard "
                                                    "mode for a judge ensemble (their games pooled).")] = None,
    style_control: Annotated[str | None, typer.Option(help="arena-hard: length | markdown | length,markdown: "
                                                      "score the style-controlled BT fit.")] = None,
    baseline: Annotated[str | None, typer.Option(help="Baseline model for pairwise-baseline (alpaca-eval: default "
                                                 "the one generator_1).")] = None,
    questions: Annotated[str | None, typer.Option(help="Only this question set (name).")] = None,
    instruction_difficulty: Annotated[Path | None, typer.Option(
        help="alpaca-eval: AlpacaEval's instruction_difficulty.csv (index, value) for the length-controlled GLM "
        "(default: its length_controlled_minimal GLM, said in the output).")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Win/loss/tie and win rates per model (FastChat's counting), mean 1-10 grades per turn, or AlpacaEval's."""
    from harness.cli.judge_tables import results_tables
    from harness.judge.results import results_report
    from harness.store import open_store

    difficulty = str(instruction_difficulty) if instruction_difficulty else None
    doc = results_report(open_store(store, create=False), judge, mode, baseline, questions, difficulty,
                         tuple(split_list(style_control)))
    print_json(doc) if as_json else stdout.print(results_tables(doc, results_report_tables))


@judge_app.command("agreement")
@handled
def judge_agreement_command(
    judge: Annotated[str, typer.Option(help="The judge to check.")],
    against: Annotated[str, typer.Option(help="human (every human judge: human, crowd), or another judge's "
                                         "name; the same as --judge compares its votes with each other.")] = "human",
    counting: Annotated[str, typer.Option(help="fastchat: a judge that saw both answer orders casts one vote, "
                                          "merged by FastChat's rule (win only when both orders agree), as "
                                          "compute_agreement counts | per-order: each order's verdict is a "
                                          "vote, so each human vote is compared with both.")] = "fastchat",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Agreement with humans or another judge (with and without ties), and position consistency."""
    from harness.judge.agreement import agreement_report
    from harness.store import open_store

    doc = agreement_report(open_store(store, create=False), judge, against, counting)
    print_json(doc) if as_json else stdout.print(agreement_table(doc))



def results_table(rows: list[dict[str, Any]], title: str) -> Table:
    """Pairwise win/loss/tie rows or single-grade rows, whichever `rows` holds."""
    table = Table(title=title)
    if rows and "turns" in rows[0]:
        turns = sorted({int(t) for r in rows for t in r["turns"]})
        categories = sorted({c for r in rows for c in r.get("categories") or {}})
        for column in ["model", *[f"turn {t}" for t in turns], "score", "n", *categories]:
            table.add_column(column)
        for r in rows:
            per_turn = {int(k): v for k, v in r["turns"].items()}
            cats = r.get("categories") or {}
            table.add_row(r["model"], *[fmt(per_turn.get(t)) for t in turns], fmt(r["score"]), str(r["n"]),
                          *[fmt(cats.get(c)) for c in categories])
        return table
    columns = ["model", "win", "loss", "tie", "n", "win_rate", "loss_rate", "win_rate_adjusted"]
    for column in columns:
        table.add_column(column)
    for r in rows:
        table.add_row(*[fmt(r[c]) for c in columns])
    return table


def judge_summary(doc: dict[str, Any]) -> Group:
    """The outcome of `harness judge`: who judged, what it cost, and the results."""
    j, u = doc["judgments"], doc["usage"]
    calls = (
        f"judge calls: {j['planned']} planned, {j['cached']} from the store, {j['called']} made now, "
        f"{j['errors']} errors, {j['skipped_budget']} skipped at --max-cost; battles written: {j['battles_written']}"
    )
    tokens = (
        f"tokens: {u['prompt_tokens']} prompt + {u['completion_tokens']} completion, cost ${u['cost_usd']:.4f}, "
        f"{u['retries']} retries"
    )
    lines = [
        f"judge: {doc['judge']} ({doc['judge_label']}), mode {doc['mode']}, questions {doc['question_set']}",
        calls,
        tokens,
    ]
    if doc["skipped_no_reference"]:
        lines.append(
            f"{doc['skipped_no_reference']} question turns without a reference were not judged (offline judge)"
        )
    if doc["stopped_by_budget"]:
        lines.append("stopped at --max-cost: re-run with a higher budget to finish")
    return Group(Text("\n".join(lines)), results_table(doc["results"], f"results ({doc['judge']})"))


def agreement_table(doc: dict[str, Any]) -> Group:
    """Agreement per turn and overall, with and without ties, and each judge's position consistency."""
    table = Table(title=f"agreement: {doc['judge']} vs {doc['against']} ({doc['counting']} counting)")
    for column in ("turn", "with ties", "n", "without ties", "n"):
        table.add_column(column)
    for row in [*doc["turns"], {"turn": "all", **doc["overall"]}]:
        w, wo = row["with_ties"], row["without_ties"]
        table.add_row(
            str(row["turn"]), fmt(w["ratio"]), str(w["total"]), fmt(wo["ratio"]), str(wo["total"])
        )
    position = Table(title="position consistency (pairs judged in both orders)")
    for column in ("judge", "pairs", "consistent", "first", "second", "other"):
        position.add_column(column)
    for p in doc["position"]:
        position.add_row(p["judge"], str(p["n"]), fmt(p["consistency"]), fmt(p["first_position_bias"]),
                         fmt(p["second_position_bias"]), fmt(p["other_rate"]))
    return Group(table, position)


def results_report_tables(doc: dict[str, Any]) -> Group:
    """`harness judge results`: one table per judge, titled with what that judge has cost."""
    tables = []
    for entry in doc["judges"]:
        usage = entry.get("usage") or {}
        spent = f", {usage.get('judgments', 0)} judgments, ${usage.get('cost_usd', 0.0):.4f}" if usage else ""
        tables.append(results_table(entry["results"], f"{entry['judge']} ({doc['mode']}{spent})"))
    return Group(*tables) if tables else Group(Text(nothing_stored(doc), no_wrap=True))


def nothing_stored(doc: dict[str, Any]) -> str:
    """Why `judge results` has no rows for the mode asked, and the command that shows what the store has."""
    stored = doc.get("stored") or {}
    single, pairwise, battles = stored.get("single", 0), stored.get("pairwise", 0), stored.get("battles", 0)
    if not (single or pairwise or battles):
        return "no judgments or battles in the store yet: harness judge --models A,B --questions SET"
    has = f"it holds {pairwise} pairwise judgments, {battles} battles and {single} single-grade judgments"
    if doc["mode"] == "single" and not single:
        return f"no single-grade judgments in the store; {has}: harness judge results --mode pairwise-all"
    if doc["mode"] != "single" and not battles:
        return f"no battles in the store to count wins from; {has}: harness judge results --mode single"
    return f"no {doc['mode']} results for these filters; {has}"
