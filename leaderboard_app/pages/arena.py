"""Arena page: Bradley-Terry ratings with 95% CIs (whisker plot), online Elo, battle counts, predicted and
observed win-rate heatmaps and a per-category breakdown. Run through `leaderboard_app/app.py`.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from leaderboard_app import data
from leaderboard_app.board import (
    category_win_rates,
    format_ranks,
    model_win_rates,
    pair_win_matrix,
    predicted_win_matrix,
    rank_ranges,
    table_height,
)
from leaderboard_app.sources import choose_sources

WHISKER_MAX = 40  # models drawn in a whisker plot; the table above lists them all
EMPTY = ("No battles in the store yet. Judge two models' answers with `harness judge`, or import battles, "
         "then fit ratings with `harness arena`.")


def ratings_table(ratings: pd.DataFrame, wins: pd.DataFrame) -> pd.DataFrame:
    """BT rating, CI, rank range, Elo and battle counts per model, best first (`wins`: per-model counts)."""
    bt = ratings[ratings["method"] == "bt"].drop_duplicates("model").set_index("model")
    elo = ratings[ratings["method"] == "elo"].drop_duplicates("model").set_index("model")["rating"]
    table = pd.DataFrame(index=wins.index.union(bt.index))
    table["BT rating"] = bt["rating"]
    table["CI low"], table["CI high"] = bt["ci_low"], bt["ci_high"]
    table["Elo"] = elo
    controlled = ratings[ratings["method"] == "bt-controlled"].drop_duplicates("model").set_index("model")
    if not controlled.empty:  # `harness arena --control length,markdown` stored a style-controlled fit
        table["BT style-controlled"] = controlled["rating"]
    table["battles"] = wins["battles"]
    table["win rate"] = wins["win_rate"]
    if not bt.empty and bt["rank_low"].notna().all():
        best, worst = bt["rank_low"].reindex(table.index).to_numpy(float), bt["rank_high"].reindex(
            table.index).to_numpy(float)
    else:
        best, worst = rank_ranges(table["BT rating"].to_numpy(float), table["CI low"].to_numpy(float),
                                  table["CI high"].to_numpy(float))
    table.insert(0, "rank", format_ranks(best, worst))
    order = "BT rating" if table["BT rating"].notna().any() else "win rate"
    return table.sort_values(order, ascending=False).rename_axis("model").reset_index()


def whisker_chart(table: pd.DataFrame) -> alt.Chart:
    """Each model's BT rating as a point with its 95% CI as a rule, best at the top (the first WHISKER_MAX)."""
    rated = table.dropna(subset=["BT rating"]).head(WHISKER_MAX)
    y = alt.Y("model:N", sort=list(rated["model"]), title=None, axis=alt.Axis(labelLimit=260, labelOverlap=False))
    rules = alt.Chart(rated).mark_rule().encode(y=y, x=alt.X("CI low:Q", scale=alt.Scale(zero=False),
                                                               title="BT rating (95% CI)"), x2="CI high:Q")
    points = alt.Chart(rated).mark_point(filled=True, size=60).encode(
        y=y, x="BT rating:Q", tooltip=["model", "rank", "BT rating", "CI low", "CI high", "battles"])
    return (rules + points).properties(height=max(160, 24 * len(rated)))


def heatmap(long: pd.DataFrame, names: list[str], title: str) -> alt.Chart:
    """A row-beats-column win-rate heatmap with values printed in the cells."""
    base = alt.Chart(long, title=title).encode(
        x=alt.X("opponent:N", sort=names, title="opponent", axis=alt.Axis(labelLimit=150, labelAngle=-50, labelOverlap=False)),
        y=alt.Y("model:N", sort=names, title=None, axis=alt.Axis(labelLimit=200, labelOverlap=False)))
    cells = base.mark_rect().encode(
        color=alt.Color("win_rate:Q", scale=alt.Scale(domain=[0, 1], scheme="redblue"), title="win rate"),
        tooltip=[c for c in long.columns])
    text = base.mark_text(fontSize=10).encode(text=alt.Text("win_rate:Q", format=".2f"))
    return (cells + text).properties(height=180 + 30 * len(names))  # Streamlit's height includes the axes


def show_category_ratings(source: data.Source, categories: list[str], judges: data.Sources = None) -> None:
    """Bradley-Terry fitted on the battles of one chosen category, as a table and a whisker plot."""
    category = st.selectbox("Ratings within one category", ["(choose a category)", *categories], key="arena_cat")
    if category == "(choose a category)":
        return
    fitted = data.load_category_ratings(source.url, source.stamp, category, judges)
    table = ratings_table(fitted, pd.DataFrame(columns=["battles", "win_rate"], dtype=float))
    table["battles"] = table["model"].map(fitted.drop_duplicates("model").set_index("model")["n_battles"])
    st.caption(f"Bradley-Terry on the {category} battles only ({data.FALLBACK_BOOTSTRAP} bootstrap rounds).")
    st.altair_chart(whisker_chart(table), width="stretch")


st.title("Arena")
source = data.page_source()
if not source.stamp.has("battles") and not source.stamp.has("ratings"):
    st.info(EMPTY)
    st.stop()
judges = choose_sources(source)
wins = model_win_rates(data.load_win_counts(source.url, source.stamp, judges=judges))
ratings = data.load_ratings(source.url, source.stamp, judges)
table = ratings_table(ratings, wins)
total = int(wins["battles"].sum() // 2)  # every battle counts once for each of its two models
st.caption(f"{total:,} battles among {len(table)} models. Rank ranges come from overlapping 95% bootstrap "
           "intervals: inside a range the order is not statistically real.")
if not source.stamp.has("ratings"):
    st.caption(f"No ratings stored: Bradley-Terry and Elo fitted here ({data.FALLBACK_BOOTSTRAP} bootstrap "
               "rounds); `harness arena` stores a full fit.")
st.dataframe(table, hide_index=True, width="stretch", height=table_height(len(table)), column_config={
    c: st.column_config.NumberColumn(c, format="%.0f")
    for c in ("BT rating", "CI low", "CI high", "Elo", "BT style-controlled")
} | {"win rate": st.column_config.NumberColumn("win rate", format="%.3f")})
if table["BT rating"].notna().any():
    st.subheader("Bradley-Terry ratings with 95% CIs")
    if len(table) > WHISKER_MAX:
        st.caption(f"The best {WHISKER_MAX} of {len(table)} models.")
    st.altair_chart(whisker_chart(table), width="stretch")
top_n = st.slider("Models in the heatmaps", 2, max(2, min(40, len(table))), min(12, max(2, len(table))),
                  key="arena_top") if len(table) > 2 else len(table)
names = list(table["model"].head(top_n))
left, right = st.columns(2)
if table["BT rating"].notna().any():
    rated = table.set_index("model")["BT rating"].reindex(names).dropna()
    left.altair_chart(heatmap(predicted_win_matrix(rated), names, "Predicted win rate (BT)"), width="stretch")
observed = pair_win_matrix(data.load_battle_counts(source.url, source.stamp, tuple(names), judges), names)
if observed.empty:
    right.caption("No battles among these models: no observed win rates.")
else:
    right.altair_chart(heatmap(observed, names, "Observed win rate (ties = ½)"), width="stretch")
by_category = category_win_rates(
    data.load_win_counts(source.url, source.stamp, by_category=True, judges=judges), names)
st.subheader("Win rate by question category")
if by_category.empty:
    st.caption("The battles carry no question categories.")
else:
    st.dataframe(by_category.rename_axis("model").reset_index(), hide_index=True, width="stretch",
                 height=table_height(len(by_category)),
                 column_config={c: st.column_config.NumberColumn(c, format="%.2f") for c in by_category})
    show_category_ratings(source, list(by_category.columns), judges)
