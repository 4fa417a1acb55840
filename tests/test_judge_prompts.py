"""Judge prompt files: the shipped ones load and render; bad ones are usage errors; edits change the hash."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import HarnessError
from harness.judge.prompts import PROMPTS_DIR, choose_prompt, load_prompts, render_pairwise
from harness.records import Question


def test_shipped_prompts_load_and_are_chosen_by_turn_and_reference():
    prompts = load_prompts()
    assert set(prompts) == {
        "pairwise-general",
        "pairwise-reference",
        "pairwise-multi-turn",
        "single-general",
        "single-multi-turn",
    }
    assert len({p.hash for p in prompts.values()}) == 5
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
