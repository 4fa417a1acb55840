"""Battle files: clean_battle JSON/JSONL, malformed rows (named, or skipped and counted), real converters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.formats.clean_battle import load_battles, read_clean_battles

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
    with pytest.raises(HarnessError, match="no battle file"):
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
    assert loaded.battles[0].judge == "worker:58" and "conv_metadata" not in loaded.battles[2].extra


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
    with pytest.raises(HarnessError, match="threeclass.jsonl line 5 .*not a JSON object with score"):
        load_battles(folder)
    loaded = load_battles(folder, skip_bad=True)
    assert loaded.skipped == 2  # the broken line and score 5; the blank line is not a row
    assert [(b.model_a, b.model_b, b.winner) for b in loaded.battles] == \
        [("bard", "vicuna-13b", "model_a"), ("bard", "vicuna-13b", "model_b"), ("bard", "vicuna-13b", "tie")]
    assert loaded.battles[0].extra["conv_metadata"]["bold_count_b"] == 1 and loaded.battles[1].extra == {}
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
    assert len(prd.battles) == 1600  # 20 ordered pairs x 80; the re-run files are left out
    reviews = load_battles(shared_data / "vicuna80_fastchat_eval")
    assert len(reviews.battles) == 13 * 80
    clean_lang = [b for b in reviews.battles
                  if b.model_b == "vicuna-13b:20230322-clean-lang" and b.model_a == "gpt-3.5-turbo:20230327"]
    totals = [sum(b.extra["score"][k] for b in clean_lang) for k in (0, 1)]
    assert totals == [693.0, 638.0]  # the Vicuna blog's Table 2: ChatGPT 693 vs Vicuna-13B 638
