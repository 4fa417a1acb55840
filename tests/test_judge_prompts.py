"""Judge prompt files: the shipped ones load and render; bad ones are usage errors; edits change the hash."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import HarnessError
from harness.judge.prompts import PROMPTS_DIR, choose_prompt, load_prompts, render_pairwise, render_single
from harness.records import Question

FASTCHAT = ("pair-v2", "pair-v2-multi-turn", "pair-math-v1", "pair-math-v1-multi-turn", "single-v1",
            "single-v1-multi-turn", "single-math-v1", "single-math-v1-multi-turn")


def test_shipped_prompts_load_and_are_chosen_by_turn_and_reference():
    prompts = load_prompts()
    assert set(prompts) == {
        "pairwise-general",
        "pairwise-reference",
        "pairwise-multi-turn",
        "single-general",
        "single-multi-turn",
        *FASTCHAT,
    }
    assert len({p.hash for p in prompts.values()}) == 5 + len(FASTCHAT)
    plain, with_ref = Question(question_id="1", category="x", turns=("q1", "q2")), Question(question_id="2", category="math", turns=("q1",), references=("42",))
    assert choose_prompt(prompts, "pairwise", plain, 1).name == "pairwise-general"
    assert choose_prompt(prompts, "pairwise", with_ref, 1).name == "pairwise-reference"
    assert choose_prompt(prompts, "pairwise", plain, 2).name == "pairwise-multi-turn"
    assert choose_prompt(prompts, "single", plain, 2).name == "single-multi-turn"
    messages = render_pairwise(prompts["pairwise-reference"], with_ref, 1, ["41"], ["42"])
    assert messages[0]["role"] == "system" and "[[C]]" in messages[0]["content"]
    user = messages[1]["content"]
    assert (
        user.index("41") < user.index("42", user.index("[Assistant A")) and "[Reference answer]\n42" in user
    )


def _copy(folder: Path, name: str, **changes: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load((PROMPTS_DIR / f"{name}.yaml").read_text())
    data.update(changes)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data))
    return folder


def test_bad_prompt_files_are_usage_errors(tmp_path: Path):
    with pytest.raises(HarnessError, match="invalid"):
        load_prompts(_copy(tmp_path / "a", "pairwise-general", template="{question} {unknown_field}"))
    with pytest.raises(HarnessError, match="does not fit"):
        load_prompts(_copy(tmp_path / "b", "pairwise-general", output_format="[[rating]]"))
    with pytest.raises(HarnessError, match="invalid"):
        load_prompts(_copy(tmp_path / "c", "single-general", colour="blue"))


def test_editing_a_prompt_changes_its_hash(tmp_path: Path):
    original = load_prompts()["pairwise-general"].hash
    edited = load_prompts(
        _copy(tmp_path, "pairwise-general", system="Be fair. End with [[A]], [[B]] or [[C]].")
    )
    assert edited["pairwise-general"].hash != original


def test_fastchat_prompts_are_chosen_as_fastchat_chooses_them():
    prompts = load_prompts()
    math = Question(question_id="1", category="math", turns=("q1", "q2"), references=("r1", "r2"))
    writing = Question(question_id="2", category="writing", turns=("w1", "w2"), references=("x1", "x2"))
    pick = lambda kind, q, turn: choose_prompt(prompts, kind, q, turn, "fastchat").name
    assert [pick("pairwise", math, t) for t in (1, 2)] == ["pair-math-v1", "pair-math-v1-multi-turn"]
    assert [pick("single", math, t) for t in (1, 2)] == ["single-math-v1", "single-math-v1-multi-turn"]
    # a reference outside math/reasoning/coding is not used (FastChat's NEED_REF_CATS)
    assert [pick("pairwise", writing, t) for t in (1, 2)] == ["pair-v2", "pair-v2-multi-turn"]
    assert pick("single", writing, 1) == "single-v1"
    user = render_single(prompts["single-v1"], writing, 1, ["ans1", "ans2"])[1]["content"]
    assert "x1" not in user and "w1" in user and "ans1" in user
    turn2 = render_pairwise(prompts["pair-math-v1-multi-turn"], math, 2, ["a1", "a2"], ["b1", "b2"])[1]["content"]
    order = [turn2.index(t) for t in ("r1", "r2", "### Assistant A:\na1", "### Assistant A:\na2", "b1", "b2")]
    assert order == sorted(order)
    # the project's own prompts stay selectable and keep their reference rule
    assert choose_prompt(prompts, "pairwise", writing, 1, "harness").name == "pairwise-reference"


def test_shipped_fastchat_prompts_are_fastchats_text(shared_data: Path):
    import json

    prompts = load_prompts()
    rows = [json.loads(line) for line in (shared_data / "mt_bench" / "judge_prompts.jsonl").read_text().splitlines()]
    assert {r["name"] for r in rows} == set(FASTCHAT)
    for row in rows:
        prompt = prompts[row["name"]]
        assert (prompt.system, prompt.template) == (row["system_prompt"], row["prompt_template"])
        assert prompt.output_format == row["output_format"]
