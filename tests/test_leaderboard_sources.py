"""The leaderboard never pools battle sources silently: with human votes and a judge model's verdicts in one
store, the pages show one source (the one with most battles) and the sidebar picks another or pools them."""

from __future__ import annotations

import pytest

from harness.records import Battle
from harness.store import open_store
from harness.store.battles import write_battles
from harness.store.views import read_battle_sources, read_win_counts
from tests.test_leaderboard import open_page, table


def _two_sources(url: str) -> None:
    """Humans prefer b (6 of 6), the judge prefers a (8 of 8): any pooling shows in the win rates."""
    humans = [Battle(model_a="a", model_b="b", winner="model_b", judge="human", battle_key=f"h{i}") for i in range(6)]
    judge = [Battle(model_a="a", model_b="b", winner="model_a", judge="gpt-4", battle_key=f"g{i}") for i in range(8)]
    write_battles(open_store(url), humans + judge)


def test_views_count_sources_and_filter_win_counts(store_url: str) -> None:
    _two_sources(store_url)
    store = open_store(store_url)
    sources = read_battle_sources(store)
    assert list(sources["source"]) == ["gpt-4", "human"] and list(sources["n"]) == [8, 6]
    wins = read_win_counts(store, judges=["human"]).set_index("model")
    assert wins.loc["b", "wins"] == 6 and wins.loc["a", "wins"] == 0 and wins.loc["a", "battles"] == 6
    pooled = read_win_counts(store, judges=["human", "gpt-4"]).set_index("model")
    assert pooled.loc["a", "battles"] == 14


def test_arena_page_shows_one_source_unless_several_are_chosen(store_url: str) -> None:
    _two_sources(store_url)
    at = open_page("pages/arena.py")
    assert any("2 sources (gpt-4, human)" in c.value and "use gpt-4." in c.value for c in at.caption)
    rates = table(at, 0).set_index("model")["win rate"]
    assert rates["a"] == pytest.approx(1.0) and rates["b"] == pytest.approx(0.0)  # the judge's battles only
    at.sidebar.multiselect[0].set_value(["human"]).run()
    rates = table(at, 0).set_index("model")["win rate"]
    assert rates["a"] == pytest.approx(0.0) and rates["b"] == pytest.approx(1.0)
    at.sidebar.multiselect[0].set_value(["gpt-4", "human"]).run()
    assert table(at, 0).set_index("model").loc["a", "win rate"] == pytest.approx(8 / 14)


def test_one_source_asks_nothing(store_url: str) -> None:
    write_battles(open_store(store_url), [Battle(model_a="a", model_b="b", winner="model_a", judge="gpt-4")] * 3)
    at = open_page("pages/arena.py")
    assert not at.sidebar.multiselect and not any("sources" in c.value for c in at.caption)
