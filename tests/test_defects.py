"""The smaller defects of issue 16, each as it now behaves: judge results/agreement on what the store lacks,
gate --tasks without arena checks, dropped style controls, runs show, flag metavars, the Compare page's template
warning and the leaderboard's toolbar."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from harness.arena.ratings import ArenaConfig, compute_ratings
from harness.cli import app
from harness.gate.checks import GateConfig
from harness.gate.decide import run_gate
from harness.records import Battle, Judgment
from harness.store import open_store
from harness.store.battles import write_battles
from harness.store.judgments import write_judgments
from tests.test_gate import two_runs  # noqa: F401 -- the fixture
from tests.test_leaderboard import filled, open_page  # noqa: F401 -- `filled` is a fixture

runner = CliRunner()


def _pairwise_judgments(n: int) -> list[Judgment]:
    return [Judgment(cache_key=f"k{i}", judge="offline", prompt_name="pair", prompt_hash="p", mode="pairwise",
                     question_set="arith", question_id=f"q{i}", turn=1, model_a="a", model_b="b",
                     answer_order="ab", status="ok", verdict="A", winner="a") for i in range(n)]


def test_judge_results_single_names_what_the_store_holds_instead() -> None:
    store = open_store()
    write_judgments(store, _pairwise_judgments(96))
    write_battles(store, [Battle(model_a="a", model_b="b", winner="model_a", judge="offline")] * 96)
    result = runner.invoke(app, ["judge", "results", "--mode", "single"])
    assert result.exit_code == 0
    out = " ".join(result.stdout.split())
    assert "no single-grade judgments in the store; it holds 96 pairwise judgments, 96 battles" in out
    assert "harness judge results --mode pairwise-all" in out  # and that command shows them:
    shown = runner.invoke(app, ["judge", "results", "--mode", "pairwise-all", "--json"])
    assert json.loads(shown.stdout)["judges"][0]["results"][0]["win"] == 96
    assert json.loads(runner.invoke(app, ["judge", "results", "--mode", "single", "--json"]).stdout)["stored"] == {
        "pairwise": 96, "battles": 96}


def test_judge_agreement_without_human_votes_is_an_error_not_an_empty_table() -> None:
    write_battles(open_store(), [Battle(model_a="a", model_b="b", winner="model_a", judge="offline")] * 4)
    result = runner.invoke(app, ["judge", "agreement", "--judge", "offline"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "no human votes in the store to compare 'offline' with" in result.stderr
    unknown = runner.invoke(app, ["judge", "agreement", "--judge", "gpt-4"])
    assert unknown.exit_code == 2 and "no judge 'gpt-4' in the store (judges: offline)" in unknown.stderr
    write_battles(open_store(), [Battle(model_a="a", model_b="b", winner="model_b", judge="other")] * 4)
    hinted = runner.invoke(app, ["judge", "agreement", "--judge", "offline"])
    hint = hinted.stderr.split("— ")[-1].split(": ", 1)[1].strip()
    assert hint == "harness judge agreement --judge offline --against other"
    ran = runner.invoke(app, hint.split()[1:] + ["--json"])  # the hint runs as printed
    assert ran.exit_code == 0 and json.loads(ran.stdout)["overall"]["with_ties"]["ratio"] == 0.0


def _battles_between_the_runs() -> None:
    write_battles(open_store(), [Battle(model_a="cand-model", model_b="base-model", winner="model_b",
                                        question_id=f"q{i}", turn=1) for i in range(30)])


def test_gate_with_tasks_leaves_the_arena_checks_out(two_runs: tuple[str, str]) -> None:  # noqa: F811
    base, cand = two_runs
    _battles_between_the_runs()
    narrowed = run_gate(GateConfig(candidate=cand, baseline=base, tasks=["task_a"]))
    assert [c.name for c in narrowed.checks] == ["task_a"]
    asked = run_gate(GateConfig(candidate=cand, baseline=base, tasks=["task_a"], arena=True))
    assert {"arena: win rate", "arena: BT rating"} <= {c.name for c in asked.checks}
    everything = run_gate(GateConfig(candidate=cand, baseline=base))
    assert {"arena: win rate", "arena: BT rating"} <= {c.name for c in everything.checks}
    result = runner.invoke(app, ["gate", "--candidate", cand, "--baseline", base, "--tasks", "task_a", "--json"])
    assert [c["name"] for c in json.loads(result.stdout)["checks"]] == ["task_a"]
    result = runner.invoke(app, ["gate", "--candidate", cand, "--baseline", base, "--tasks", "task_a", "--arena",
                                 "--json"])
    assert "arena: win rate" in [c["name"] for c in json.loads(result.stdout)["checks"]]


def test_a_style_control_that_cannot_be_fitted_is_named_not_dropped_silently() -> None:
    plain = {"conv_metadata": {"sum_assistant_a_tokens": 10, "sum_assistant_b_tokens": 30,
                               "header_count_a": {}, "header_count_b": {}, "list_count_a": {}, "list_count_b": {},
                               "bold_count_a": {}, "bold_count_b": {}}}
    longer = {"conv_metadata": {**plain["conv_metadata"], "sum_assistant_a_tokens": 40}}
    battles = [Battle(model_a="a", model_b="b", winner=w, extra=e)
               for w, e in [("model_a", plain), ("model_b", longer), ("model_a", longer), ("model_b", plain)] * 5]
    report = compute_ratings(battles, ArenaConfig(control=("length", "markdown"), bootstrap=0))
    assert report.style is not None and report.style.features == ("length",)
    assert any("'markdown' left out" in w and "headers, lists or bold" in w for w in report.warnings)
    assert not any("'length'" in w for w in report.warnings)


def test_runs_show_prints_no_none_fields() -> None:
    from tests.test_identity import _runs

    _runs(str(open_store().url), ["r-0123456789ab"])
    result = runner.invoke(app, ["runs", "show", "r-0123"])
    assert result.exit_code == 0
    assert "None" not in result.stdout and "error" not in result.stdout and "status" in result.stdout


@pytest.mark.parametrize("command", [["eval"], ["runs", "list"], ["gate"], ["judge", "results"], ["arena"]])
def test_flags_have_no_bool_metavar(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "160"})
    lines = [line for line in result.stdout.splitlines() if "--json" in line or "--force" in line]
    assert lines and not any("<bool>" in line for line in lines)
    assert "path ." not in result.stdout  # "[default: ...]" in a help text is no longer eaten as markup


def test_compare_page_warns_that_the_two_models_had_different_templates(filled: dict[str, str]) -> None:  # noqa: F811
    at = open_page("pages/compare.py")
    warnings = [w.value for w in at.warning]
    assert any("Prompts differ: alpaca-full was prompted with chat template alpaca, vicuna-lora with vicuna" in w
               for w in warnings)
    at.selectbox(key="cmp_b").select("alpaca-lora").run()  # both prompted with the alpaca template
    assert not any("Prompts differ" in w.value for w in at.warning)


def test_the_read_only_leaderboard_has_no_deploy_button() -> None:
    from leaderboard_app import streamlit_command

    command = streamlit_command(None)
    assert command[command.index("--client.toolbarMode") + 1] == "viewer"
    import streamlit as st

    open_page()
    assert st.get_option("client.toolbarMode") == "viewer"  # also under a plain `streamlit run app.py`
