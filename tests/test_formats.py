"""The readers of published formats: clean_battle JSON/JSONL, malformed rows (named, or skipped and counted),
format detection, the Vicuna-80, PRD and LLMFAO conventions, battle keys, and the real files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.formats import FORMATS, detect_format
from harness.formats import read_file as load_battles
from harness.formats.clean_battle import read_clean_battles
from harness.records import WINNERS
from tests import format_files

ROWS = [
    {"model_a": "vicuna-13b", "model_b": "alpaca-13b", "winner": "model_a", "question_id": 7, "turn": 1,
     "category": "writing", "judge": "gpt-4", "tstamp": 1682351591.1, "language": "English"},
    {"model_a": "alpaca-13b", "model_b": "llama-13b", "winner": "tie (bothbad)", "anony": True},
    {"model_a": "llama-13b", "model_b": "vicuna-13b", "winner": "model_b"},
]


def test_json_list_and_jsonl_give_the_same_battles(tmp_path: Path) -> None:
    as_list = tmp_path / "battles.json"
    as_list.write_text(json.dumps(ROWS, indent=2))
    as_lines = tmp_path / "battles.jsonl"
    as_lines.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    first, second = read_clean_battles(as_list), read_clean_battles(as_lines)
    assert [(b.model_a, b.model_b, b.winner) for b in first.battles] == \
        [(b.model_a, b.model_b, b.winner) for b in second.battles]
    battle = first.battles[0]
    assert (battle.question_id, battle.turn, battle.category, battle.judge) == ("7", 1, "writing", "gpt-4")
    assert battle.extra == {"tstamp": 1682351591.1, "language": "English"}  # other fields kept
    assert first.battles[1].extra == {"anony": True} and first.battles[1].winner == "tie (bothbad)"
    assert first.source == "import:battles.json" and first.skipped == 0


@pytest.mark.parametrize(("row", "reason"), [
    ({"model_a": "x", "model_b": "y", "winner": "draw"}, "winner 'draw' is not one of"),
    ({"model_a": "x", "winner": "tie"}, "model_b is missing"),
    ({"model_a": "x", "model_b": "x", "winner": "tie"}, "model_a and model_b are both 'x'"),
    (["x", "y", "tie"], "expected an object, got list"),
    ({"model_a": "", "model_b": "y", "winner": "tie"}, "model_a is missing"),
])
def test_a_malformed_row_is_named(tmp_path: Path, row: object, reason: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([ROWS[0], row, ROWS[2]]))
    with pytest.raises(HarnessError, match=f"row 2 of .*bad.json: {reason}") as info:
        load_battles(path)
    assert "--skip-bad" in (info.value.hint or "")
    skipped = load_battles(path, skip_bad=True)
    assert skipped.skipped == 1 and len(skipped.battles) == 2
    assert skipped.problems and reason.split("'")[0] in skipped.problems[0]


def test_a_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(json.dumps(r) for r in ROWS).encode())
    assert len(load_battles(path).battles) == 3


def test_jsonl_names_the_line_of_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n{not json\n" + json.dumps(ROWS[1]) + "\n")
    with pytest.raises(HarnessError, match="line 3 of .*bad.jsonl: invalid JSON"):
        load_battles(path)
    result = load_battles(path, skip_bad=True)
    assert result.skipped == 1 and len(result.battles) == 2


def test_broken_json_list_and_missing_paths(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"model_a": "x",')
    with pytest.raises(HarnessError, match="not valid JSON"):
        load_battles(path)
    with pytest.raises(HarnessError, match="no file"):
        load_battles(tmp_path / "absent.json")
    with pytest.raises(HarnessError, match="is a folder"):
        load_battles(tmp_path)


def test_llmfao_csv_converts_with_style_metadata(tmp_path: Path) -> None:
    (tmp_path / "crowd-comparisons.csv").write_text(
        "id,prompt,model_x,model_y,worker,winner,left,right\n"
        "0,8,97,98,58,left,A,B\n0,8,97,98,14,tie,A,B\n1,9,98,97,3,right,B,A\n2,9,98,97,3,sideways,B,A\n")
    (tmp_path / "pairs-crowd.jsonl").write_text(
        json.dumps({"id": 0, "result_x": "# Head\nlong answer here", "result_y": "short"}) + "\n")
    with pytest.raises(HarnessError, match="line 5"):
        load_battles(tmp_path / "crowd-comparisons.csv")
    loaded = load_battles(tmp_path / "crowd-comparisons.csv", skip_bad=True)
    assert [(b.model_a, b.model_b, b.winner) for b in loaded.battles] == \
        [("A", "B", "model_a"), ("A", "B", "tie"), ("B", "A", "model_b")]
    meta = loaded.battles[0].extra["conv_metadata"]
    assert meta["header_count_a"] == 1 and meta["sum_assistant_a_tokens"] > meta["sum_assistant_b_tokens"]
    # one judge for the crowd file (agreement and results see it as one), the worker kept beside it
    assert {b.judge for b in loaded.battles} == {"crowd"} and loaded.battles[0].extra["worker"] == "58"
    assert "conv_metadata" not in loaded.battles[2].extra and loaded.battles[2].extra["pair_id"] == "1"


def test_prd_folder_maps_scores_and_prefers_underscore_files(tmp_path: Path) -> None:
    folder = tmp_path / "ratings-gpt35"
    folder.mkdir()
    (folder / "answer_bard-vs-answer_vicuna-13b-gpt35-reviewer_threeclass.jsonl").write_text(
        "".join(json.dumps({"question_id": q, "score": s}) + "\n" for q, s in [(1, 1), (2, 2), (3, 3)])
        + "\n{broken\n" + json.dumps({"question_id": 4, "score": 5}) + "\n")
    (folder / "answer-bard-vs-answer-vicuna-13b-gpt35-reviewer-threeclass.jsonl").write_text(
        json.dumps({"question_id": 1, "score": 2}) + "\n")
    (tmp_path / "generations").mkdir()
    for model in ("bard", "vicuna-13b"):
        (tmp_path / "generations" / f"answer_{model}.jsonl").write_text(
            json.dumps({"question_id": 1, "text": f"{model} says **hi**"}) + "\n")
    with pytest.raises(HarnessError, match="threeclass.jsonl line 5 of .*ratings-gpt35: invalid JSON"):
        load_battles(folder)
    loaded = load_battles(folder, skip_bad=True)
    assert loaded.skipped == 2  # the broken line and score 5; the blank line is not a row
    assert [(b.model_a, b.model_b, b.winner) for b in loaded.battles] == \
        [("bard", "vicuna-13b", "model_a"), ("bard", "vicuna-13b", "model_b"), ("bard", "vicuna-13b", "tie")]
    assert loaded.battles[0].extra["conv_metadata"]["bold_count_b"] == 1
    assert loaded.battles[1].extra == {"g1": "model_b"}  # one order only: no g2, no answers for q2
    assert loaded.battles[0].judge == "gpt35" and loaded.battles[0].question_id == "1"


def test_shared_real_files_convert(shared_data: Path) -> None:
    crowd = load_battles(shared_data / "llmfao" / "crowd-comparisons.csv")
    assert len(crowd.battles) == 8931 and crowd.skipped == 0
    # PROVENANCE.md: left 2,911 / right 2,549 / tie 3,471
    assert sum(b.winner == "tie" for b in crowd.battles) == 3471
    assert sum(b.winner == "model_a" for b in crowd.battles) == 2911
    assert all("conv_metadata" in b.extra for b in crowd.battles)
    gpt4 = load_battles(shared_data / "llmfao" / "gpt4-crowd-comparisons.csv")
    assert len(gpt4.battles) == 2139 and gpt4.battles[0].judge == "gpt4"
    prd = load_battles(shared_data / "prd_vicuna80_pairwise" / "ratings-gpt35")
    # 10 pairs x 80, each question's two orders combined; the re-run files are left out
    assert len(prd.battles) == 800 and all({"g1", "g2"} <= set(b.extra) for b in prd.battles)
    reviews = load_battles(shared_data / "vicuna80_fastchat_eval")
    assert len(reviews.battles) == 13 * 80
    clean_lang = [b for b in reviews.battles
                  if b.model_b == "vicuna-13b:20230322-clean-lang" and b.model_a == "gpt-3.5-turbo:20230327"]
    totals = [sum(b.extra[k] for b in clean_lang) for k in ("score_a", "score_b")]
    assert totals == [693.0, 638.0]  # the Vicuna blog's Table 2: ChatGPT 693 vs Vicuna-13B 638


@pytest.mark.parametrize("fmt", list(format_files.WRITERS))
def test_each_format_is_detected_and_keyed_by_file_and_row(tmp_path: Path, fmt: str) -> None:
    path = format_files.WRITERS[fmt](tmp_path)
    assert detect_format(path) == fmt
    first, again = load_battles(path), FORMATS[fmt](path, False)
    assert first.format == fmt and first.battles and first.battles == again.battles  # pure and repeatable
    keys = [b.battle_key for b in first.battles]
    assert all(keys) and len(set(keys)) == len(keys)
    assert all(b.source == first.source and b.winner in WINNERS for b in first.battles)


def test_detection_of_the_rest(tmp_path: Path) -> None:
    single = tmp_path / "gpt-4_single.jsonl"
    single.write_text(json.dumps({"question_id": 1, "model": "a", "score": 7, "judge": ["gpt-4", "single-v1"]}))
    assert detect_format(single) == "fastchat-single"
    arena_votes = tmp_path / "arena.json"  # an Arena user as judge: clean_battle, the judge kept as is
    arena_votes.write_text(json.dumps([{"model_a": "x", "model_b": "y", "winner": "tie", "judge": "arena_user_7"}]))
    assert detect_format(arena_votes) == "clean-battle"
    assert load_battles(arena_votes).battles[0].judge == "arena_user_7"
    first_line_broken = tmp_path / "b.jsonl"
    first_line_broken.write_text('{oops\n{"model_a": "x", "model_b": "y", "winner": "tie"}\n')
    assert detect_format(first_line_broken) == "clean-battle"
    for name, text in (("odd.jsonl", '{"hello": 1}\n'), ("empty.json", "[]"), ("list.jsonl", "[1, 2]\n")):
        (tmp_path / name).write_text(text)
        with pytest.raises(HarnessError, match="cannot tell the format"):
            detect_format(tmp_path / name)
    with pytest.raises(HarnessError, match="unknown format 'nope'"):
        load_battles(arena_votes, fmt="nope")


def test_vicuna_reviews_name_models_by_answer_model_id(tmp_path: Path) -> None:
    folder = format_files.vicuna_eval(tmp_path)
    loaded = load_battles(folder)
    assert [(b.model_a, b.model_b, b.winner) for b in loaded.battles] == [
        ("llama-13b:v1", "vicuna-13b:clean", "model_b"), ("llama-13b:v1", "vicuna-13b:clean", "tie"),
        ("llama-13b:v1", "vicuna-7b:fp16", "model_a")]  # review_llama_* and review_llama-13b_*: one model
    assert loaded.dropped == 1  # [-1, -1]: FastChat's unparsed review
    assert loaded.battles[0].extra["score_a"] == 6.0 and loaded.battles[0].extra["g1"] == "model_b"
    assert loaded.battles[0].extra["conv_metadata"]["header_count_a"] == 1
    one = load_battles(folder / "review" / "vicuna-7b_fp16" / "review_llama_vicuna-7b.jsonl")
    assert one.battles == [replace(loaded.battles[2], source=one.source)]  # same names and key as the folder's
    lone = tmp_path / "review_gpt35_vicuna-13b.jsonl"
    lone.write_text(json.dumps({"question_id": 1, "answer1_id": "L1", "answer2_id": "V1", "score": [1, 2]}) + "\n")
    with pytest.raises(HarnessError, match="no answer/ folder"):
        load_battles(lone)
    bad = folder / "review" / "vicuna-7b_fp16" / "review_llama_vicuna-7b.jsonl"
    bad.write_text(json.dumps({"question_id": 1, "answer1_id": "L1", "answer2_id": "nobody", "score": [1, 2]}))
    with pytest.raises(HarnessError, match="review_llama_vicuna-7b.jsonl line 1 of .*not found in answer/"):
        load_battles(folder)


def test_prd_combines_an_llms_two_orders_and_keeps_human_votes(tmp_path: Path) -> None:
    llm = load_battles(format_files.prd(tmp_path))
    # bard-vs-claude q1: A, then claude-vs-bard: B (bard again): bard; q2: tie then claude first: tie
    assert [(b.model_a, b.model_b, b.winner, b.extra.get("g2")) for b in llm.battles] == [
        ("bard", "claude", "model_a", "model_a"), ("bard", "claude", "tie", "model_b"),
        ("gpt4", "bard", "model_b", None)]
    human = load_battles(format_files.prd_human(tmp_path))
    assert [(b.model_a, b.model_b, b.winner) for b in human.battles] == [
        ("bard", "claude", "model_a"), ("bard", "claude", "model_b"), ("claude", "bard", "tie")]
    assert {b.judge for b in human.battles} == {"human"} and "g2" not in human.battles[0].extra
    single = load_battles(tmp_path / "ratings-gpt4" / "answer_gpt4-vs-answer_bard-gpt4-reviewer_threeclass.jsonl")
    assert single.battles == [replace(llm.battles[2], source=single.source)]
    (tmp_path / "ratings-gpt4" / "notes.jsonl").write_text("{}\n")
    with pytest.raises(HarnessError, match="notes.jsonl of .*not named answer_A-vs-answer_B-gpt4-reviewer"):
        load_battles(tmp_path / "ratings-gpt4")


def test_shared_real_prd_reviewer_with_a_hyphen(shared_data: Path) -> None:
    vicuna = load_battles(shared_data / "prd_vicuna80_pairwise" / "ratings-vicuna-13b")
    assert len(vicuna.battles) == 800 and {b.judge for b in vicuna.battles} == {"vicuna-13b"}
    assert {b.model_a for b in vicuna.battles} | {b.model_b for b in vicuna.battles} == \
        {"bard", "claude", "gpt35", "gpt4", "vicuna-13b"}


def test_shared_real_vicuna_models_are_the_answer_model_ids(shared_data: Path) -> None:
    folder = shared_data / "vicuna80_fastchat_eval"
    declared = {json.loads(line)["model_id"] for line in (folder / "model.jsonl").read_text().splitlines()}
    reviews = load_battles(folder)
    assert {b.model_a for b in reviews.battles} | {b.model_b for b in reviews.battles} == declared  # 7, no split
    one = load_battles(folder / "review" / "vicuna-7b_20230322-fp16" / "review_llama_vicuna-7b.jsonl")
    assert {(b.model_a, b.model_b) for b in one.battles} == {("llama-13b:v1", "vicuna-7b:20230322-fp16")}
    assert {b.battle_key for b in one.battles} <= {b.battle_key for b in reviews.battles}
