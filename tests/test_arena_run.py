"""`harness arena` end to end: file or store battles, ratings stored under the battle-set fingerprint, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.arena.ratings import ArenaConfig
from harness.arena.run import run_arena
from harness.cli import app
from harness.cli.arena import arena_table, parse_anchor
from harness.errors import HarnessError
from harness.records import Battle, Rating
from harness.store import open_store
from harness.store.battles import write_battles
from harness.store.ratings import list_battle_sets, read_ratings, write_ratings

OUTCOMES = [("a", "b", "model_a")] * 6 + [("a", "b", "model_b")] * 2 + [("b", "c", "model_a")] * 5 + \
    [("c", "b", "model_a"), ("a", "c", "tie"), ("c", "a", "model_a"), ("a", "c", "model_a")]


def battle_file(tmp_path: Path, extra_rows: list[object] | None = None) -> Path:
    rows: list[object] = [{"model_a": a, "model_b": b, "winner": w, "category": "chat" if k % 2 else "code"}
                          for k, (a, b, w) in enumerate(OUTCOMES)]
    path = tmp_path / "battles.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows + (extra_rows or [])))
    return path


def test_run_arena_on_a_file_stores_ratings_under_the_fingerprint(tmp_path: Path) -> None:
    outcome = run_arena(ArenaConfig(bootstrap=50), battles_file=battle_file(tmp_path))
    report = outcome.report
    assert outcome.source == "import:battles.jsonl" and outcome.skipped == 0
    assert outcome.stored == 3 * 2  # bt + elo per model
    stored = read_ratings(open_store(), report.battle_set)
    bt = {r.model: r for r in stored if r.method == "bt"}
    assert bt["a"].rating == pytest.approx(report.row("a").bt)
    assert bt["a"].ci_low == pytest.approx(report.row("a").ci_low)
    assert bt["a"].rank_low == report.row("a").rank_low
    assert bt["a"].params["battles"] == len(OUTCOMES) and bt["a"].params["bootstrap"] == 50
    elo = {r.model: r.rating for r in stored if r.method == "elo"}
    assert elo["b"] == pytest.approx(report.row("b").elo)
    assert [s["battle_set"] for s in list_battle_sets(open_store())] == [report.battle_set]


def test_rerating_replaces_rows_and_category_filters(tmp_path: Path) -> None:
    path = battle_file(tmp_path)
    first = run_arena(ArenaConfig(bootstrap=20), battles_file=path)
    again = run_arena(ArenaConfig(bootstrap=20, anchor=("b", 1500.0)), battles_file=path)
    assert first.report.battle_set == again.report.battle_set
    rows = read_ratings(open_store(), first.report.battle_set, method="bt")
    assert len(rows) == 3 and {r.model: r.rating for r in rows}["b"] == pytest.approx(1500.0)
    code = run_arena(ArenaConfig(bootstrap=0), battles_file=path, category="code")
    assert code.report.n_battles == (len(OUTCOMES) + 1) // 2
    assert read_ratings(open_store())[0].battle_set == code.report.battle_set  # newest set by default
    with pytest.raises(HarnessError, match="no battles in category 'poetry'"):
        run_arena(ArenaConfig(), battles_file=path, category="poetry")


def test_run_arena_from_the_store(tmp_path: Path) -> None:
    store = open_store()
    write_battles(store, [Battle(model_a=a, model_b=b, winner=w, source="judge:test", category="chat") for a, b, w in OUTCOMES])
    outcome = run_arena(ArenaConfig(method="bt", bootstrap=30), from_store=True)
    assert outcome.report.n_battles == len(OUTCOMES) and outcome.source.startswith("store:")
    assert all(r.elo is None for r in outcome.report.rows)
    with pytest.raises(HarnessError, match="exactly one"):
        run_arena(ArenaConfig(), battles_file=battle_file(tmp_path), from_store=True)
    with pytest.raises(HarnessError, match="exactly one"):
        run_arena(ArenaConfig())


def test_write_ratings_replaces_only_its_method() -> None:
    store = open_store()
    write_ratings(store, [Rating(battle_set="sha256:x", method="bt", model="m", rating=1000.0), Rating(battle_set="sha256:x", method="elo", model="m", rating=990.0)])
    write_ratings(store, [Rating(battle_set="sha256:x", method="bt", model="m", rating=1010.0, ci_low=990.0, ci_high=1030.0, rank_low=1, rank_high=2, n_battles=40, params={"seed": 1})])
    rows = {r.method: r for r in read_ratings(store, "sha256:x")}
    assert rows["bt"].rating == 1010.0 and rows["bt"].params == {"seed": 1} and rows["elo"].rating == 990.0
    assert read_ratings(store, "sha256:other") == []


def test_parse_anchor() -> None:
    assert parse_anchor("vicuna-13b=1000") == ("vicuna-13b", 1000.0)
    assert parse_anchor("a=b=1114.5") == ("a=b", 1114.5)
    assert parse_anchor(None) is None
    for bad in ("vicuna", "=1000", "m=high"):
        with pytest.raises(HarnessError, match="bad --anchor"):
            parse_anchor(bad)


def test_table_shows_ranks_cis_and_controlled_columns(tmp_path: Path) -> None:
    from rich.console import Console

    report = run_arena(ArenaConfig(bootstrap=40), battles_file=battle_file(tmp_path)).report
    console = Console(width=160, record=True)
    console.print(arena_table(report))
    text = console.export_text()
    assert "95% CI" in text and "BT ctrl" not in text
    assert text.index(report.rows[0].model + " ") < text.index(report.rows[-1].model + " ")


def test_cli_json_skip_bad_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    path = battle_file(tmp_path, extra_rows=[{"model_a": "a", "model_b": "b", "winner": "nobody"}])
    failed = runner.invoke(app, ["arena", "--battles", str(path), "--json"])
    assert failed.exit_code == 2 and "line 18" in failed.output and "--skip-bad" in failed.output
    result = runner.invoke(app, ["arena", "--battles", str(path), "--skip-bad", "--json", "--bootstrap", "30",
                                 "--seed", "3", "--anchor", "c=900"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["battles"] == len(OUTCOMES) and document["skipped"] == 1
    assert document["models"][0]["model"] == "a"
    assert {m["model"]: m["bt"] for m in document["models"]}["c"] == pytest.approx(900.0)
    assert set(document["models"][0]) >= {"model", "elo", "bt", "ci_low", "ci_high", "rank_low", "rank_high",
                                          "battles"}
    human = runner.invoke(app, ["arena", "--battles", str(path), "--skip-bad", "--method", "elo"])
    assert human.exit_code == 0 and "Elo" in human.stdout
    bad = runner.invoke(app, ["arena", "--battles", str(path), "--control", "colour"])
    assert bad.exit_code == 2 and "control" in bad.output


def test_cli_style_control_from_file_metadata(tmp_path: Path) -> None:
    from harness.answer_style import style_metadata

    rows = []
    for k, (a, b, w) in enumerate(OUTCOMES * 3):
        long_a = "word " * (40 + 7 * k % 30) + "\n- item\n**bold**"
        rows.append({"model_a": a, "model_b": b, "winner": w,
                     "conv_metadata": style_metadata(long_a, "short " * (10 + k % 9))})
    path = tmp_path / "styled.json"
    path.write_text(json.dumps(rows))
    result = CliRunner().invoke(app, ["arena", "--battles", str(path), "--control", "length,markdown",
                                      "--json", "--bootstrap", "25"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["style"]["features"][0] == "length"
    for model in document["models"]:
        assert model["bt_controlled"] is not None and model["controlled_ci_low"] is not None
    stored = {r.method for r in read_ratings(open_store(), document["battle_set"])}
    assert stored == {"bt", "elo", "bt-controlled"}
    assert len(document["matrices"]["predicted"]) == 3


def test_store_with_several_sources_needs_a_judge(store_url: str) -> None:
    from harness.arena.run import run_arena
    from harness.arena.sources import select_sources
    from harness.errors import HarnessError
    from harness.records import Battle
    from harness.store import open_store
    from harness.store.battles import write_battles

    battles = [Battle(model_a="x", model_b="y", winner=w, judge=j, battle_key=f"{j}{k}")
               for k, (w, j) in enumerate([("model_a", "human"), ("model_b", "human"), ("model_a", "gpt-4"),
                                           ("model_a", "gpt-4"), ("tie", "crowd")])]
    write_battles(open_store(), battles)
    config = ArenaConfig(method="bt", bootstrap=0)
    with pytest.raises(HarnessError, match="3 sources: crowd, gpt-4, human"):
        run_arena(config, from_store=True)
    assert run_arena(config, from_store=True, judges=["human"]).report.n_battles == 2
    assert run_arena(config, from_store=True, judges=["human", "crowd"]).report.n_battles == 3
    with pytest.raises(HarnessError, match="no battles judged by 'gpt-5'"):
        run_arena(config, from_store=True, judges=["gpt-5"])
    assert len(select_sources(battles[:2])) == 2  # one source: nothing to choose


def test_many_sources_are_counted_not_all_listed() -> None:
    """Many judges (a rater per row, say): the error names the first ten sources and counts the rest."""
    from harness.arena.sources import select_sources
    from harness.errors import HarnessError
    from harness.records import Battle

    voters = [f"rater_{k:02d}" for k in range(25)]
    battles = [Battle(model_a="x", model_b="y", winner="model_a", judge=j, battle_key=j) for j in voters]
    with pytest.raises(HarnessError) as raised:
        select_sources(battles)
    assert raised.value.message == f"the battles come from 25 sources: {', '.join(voters[:10])} and 15 more"
    with pytest.raises(HarnessError, match=r"\(sources: rater_00, .*rater_09 and 15 more\)"):
        select_sources(battles, ["gpt-4"])


def test_sources_are_named_alike_in_python_and_in_the_store_views(store_url: str) -> None:
    """Chatbot Arena voters are the crowd, no judge (None or "") is unspecified: in `battle_source` and in the
    views' SQL, for battles stored row by row."""
    from harness.arena.sources import source_of, sources_of
    from harness.records import Battle
    from harness.store import open_store
    from harness.store.battles import read_battles, write_battles
    from harness.store.views import read_battle_counts, read_battle_sources

    judges = ["arena_user_9", "arena_user_12", "gpt-4", "", None, "arena_userX", "human"]
    store = open_store()
    write_battles(store, [Battle(model_a="x", model_b="y", winner="tie", judge=j, battle_key=f"k{k}")
                          for k, j in enumerate(judges)])
    expected = {"crowd": 2, "gpt-4": 1, "unspecified": 2, "arena_userX": 1, "human": 1}
    assert read_battle_sources(store).set_index("source")["n"].to_dict() == expected
    assert sources_of(read_battles(store)) == sorted(expected) == sorted({source_of(j) for j in judges})
    assert int(read_battle_counts(store, judges=["crowd", "unspecified"])["n"].sum()) == 4
