"""`harness generate` and `harness judge [import|results|agreement]`: parse, call `generate`/`judge`, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from harness.cli.options import (
    BaseUrlOpt,
    BatchSizeOpt,
    ChatTemplateOpt,
    DeviceOpt,
    ForceOpt,
    JsonOpt,
    ModelOpt,
    NameOpt,
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
    model: ModelOpt,
    questions: Annotated[str, typer.Option(help="Question set (arith, general) or a question.jsonl path.")],
    backend: Annotated[str, typer.Option(help="hf | vllm | local-chat-completions.")] = "hf",
    base_url: BaseUrlOpt = None,
    api_key_env: Annotated[str, typer.Option(help="Variable holding the chat server's API key.")] = "OPENAI_API_KEY",
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per answer turn.")] = 256,
    chat_template: ChatTemplateOpt = None,
    name: NameOpt = None,
    batch_size: BatchSizeOpt = None,
    device: DeviceOpt = "cpu",
    force: ForceOpt = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer an open-ended question set (turn by turn, chat-templated); stored answers are skipped."""
    from harness.generate import GenerateConfig, run_generate

    sizes = {"batch_size": batch_size} if batch_size else {}
    config = validated(GenerateConfig, model=model, name=name, questions=questions, backend=backend,
                       base_url=base_url, api_key_env=api_key_env, max_new_tokens=max_new_tokens, chat_template=chat_template,
                       device=device, force=force, **sizes)
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
    max_cost: Annotated[float | None, typer.Option(
        help="Stop starting calls once this judge has cost this many USD in the store, earlier runs included "
        "(exit code 4).")] = None,
    price_per_mtok: Annotated[str | None, typer.Option(help="IN,OUT USD per million tokens.")] = None,
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
                       baseline=baseline, concurrency=concurrency, max_cost=max_cost, price_per_mtok=price)
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
                                               "fastchat-votes | vicuna-review | prd | alpaca-eval | llmfao "
                                               "(default: detect).")] = None,
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
    judge: Annotated[str | None, typer.Option(help="One judge (default: every judge).")] = None,
    baseline: Annotated[str | None, typer.Option(help="Baseline model for pairwise-baseline.")] = None,
    questions: Annotated[str | None, typer.Option(help="Only this question set (name).")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Win/loss/tie and win rates per model (FastChat's counting), or mean 1-10 grades per turn."""
    from harness.judge.results import results_report
    from harness.store import open_store

    doc = results_report(open_store(store, create=False), judge, mode, baseline, questions)
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
    from harness.judge.results import agreement_report
    from harness.store import open_store

    doc = agreement_report(open_store(store, create=False), judge, against)
    print_json(doc) if as_json else stdout.print(agreement_table(doc))



def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def results_table(rows: list[dict[str, Any]], title: str) -> Table:
    """Pairwise win/loss/tie rows or single-grade rows, whichever `rows` holds."""
    table = Table(title=title)
    if rows and "turns" in rows[0]:
        turns = sorted({int(t) for r in rows for t in r["turns"]})
        for column in ["model", *[f"turn {t}" for t in turns], "score", "n"]:
            table.add_column(column)
        for r in rows:
            per_turn = {int(k): v for k, v in r["turns"].items()}
            table.add_row(r["model"], *[_fmt(per_turn.get(t)) for t in turns], _fmt(r["score"]), str(r["n"]))
        return table
    columns = ["model", "win", "loss", "tie", "n", "win_rate", "loss_rate", "win_rate_adjusted"]
    for column in columns:
        table.add_column(column)
    for r in rows:
        table.add_row(*[_fmt(r[c]) for c in columns])
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
    table = Table(title=f"agreement: {doc['judge']} vs {doc['against']}")
    for column in ("turn", "with ties", "n", "without ties", "n"):
        table.add_column(column)
    for row in [*doc["turns"], {"turn": "all", **doc["overall"]}]:
        w, wo = row["with_ties"], row["without_ties"]
        table.add_row(
            str(row["turn"]), _fmt(w["ratio"]), str(w["total"]), _fmt(wo["ratio"]), str(wo["total"])
        )
    position = Table(title="position consistency (pairs judged in both orders)")
    for column in ("judge", "pairs", "consistency", "first-position bias", "second-position bias"):
        position.add_column(column)
    for p in doc["position"]:
        position.add_row(
            p["judge"],
            str(p["n"]),
            _fmt(p["consistency"]),
            _fmt(p["first_position_bias"]),
            _fmt(p["second_position_bias"]),
        )
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
