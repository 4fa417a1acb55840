"""Judge prompts as data: `tasks/judge_prompts/*.yaml`, each versioned by the content hash of its fields.

`choose_prompt` picks the prompt for a judgment (pairwise or single; turn 1 with or without a reference,
or a later turn of a conversation) and `render_pairwise` / `render_single` turn it into chat messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from harness.errors import HarnessError
from harness.fingerprint import content_hash
from harness.records import Question
from harness.resources import tasks_dir

PROMPTS_DIR = tasks_dir() / "judge_prompts"


class JudgePrompt(BaseModel):
    """One judge prompt file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """The name judgments record (`prompt_name`)."""
    kind: Literal["pairwise", "single"]
    """pairwise: two answers, a verdict; single: one answer, a 1-10 grade."""
    output_format: Literal["[[A]]", "[[rating]]", "score1 score2"]
    """The verdict format, which picks the strict parser in `harness.judge.verdicts` (`score1 score2`: a first
    line with both answers' 1-10 scores, as the Vicuna-80 reviews were asked for)."""
    description: str = ""
    """One line for humans."""
    system: str
    """The system message."""
    template: str
    """The user message, a `str.format` template over question/answer/conversation/reference fields."""

    @model_validator(mode="after")
    def _parser_fits_kind(self) -> JudgePrompt:
        single = self.output_format == "[[rating]]"
        if single != (self.kind == "single"):
            raise ValueError(f"output_format {self.output_format!r} does not fit a {self.kind} prompt")
        return self

    @cached_property
    def hash(self) -> str:
        return content_hash(self.model_dump(mode="json"))


def load_prompts(directory: Path = PROMPTS_DIR) -> dict[str, JudgePrompt]:
    """Every prompt in `directory`, by name; each must render with the standard fields."""
    import yaml
    from pydantic import ValidationError

    prompts = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            prompt = JudgePrompt(**yaml.safe_load(path.read_text()))
            prompt.template.format(**_EMPTY_FIELDS)
        except (ValidationError, KeyError, ValueError, TypeError) as exc:
            raise HarnessError(
                f"judge prompt {path} is invalid: {exc}", hint="compare with pairwise-general.yaml"
            ) from exc
        prompts[prompt.name] = prompt
    return prompts


_EMPTY_FIELDS = dict.fromkeys(
    [
        "question",
        "answer",
        "answer_a",
        "answer_b",
        "reference",
        "reference_section",
        "conversation",
        "conversation_a",
        "conversation_b",
        # FastChat's numbered fields (its judge_prompts.jsonl): turn k of the question, answers, reference
        *[f"{field}_{k}" for field in ("question", "answer", "answer_a", "answer_b", "ref_answer") for k in (1, 2)],
    ],
    "",
)
PROMPT_SETS = ("fastchat", "harness")
# FastChat llm_judge/common.py NEED_REF_CATS: the only categories judged against a reference answer.
REFERENCE_CATEGORIES = ("math", "reasoning", "coding", "arena-hard-200")
_FASTCHAT_NAMES = {("pairwise", False, 1): "pair-v2", ("pairwise", False, 2): "pair-v2-multi-turn",
                   ("pairwise", True, 1): "pair-math-v1", ("pairwise", True, 2): "pair-math-v1-multi-turn",
                   ("single", False, 1): "single-v1", ("single", False, 2): "single-v1-multi-turn",
                   ("single", True, 1): "single-math-v1", ("single", True, 2): "single-math-v1-multi-turn"}


def uses_reference(question: Question, prompt_set: str = "harness") -> bool:
    """Whether judgments of `question` see its reference: any reference (harness), or as FastChat only in
    math, reasoning and coding (fastchat)."""
    return bool(question.references) and (prompt_set != "fastchat" or question.category in REFERENCE_CATEGORIES)


def choose_prompt(prompts: dict[str, JudgePrompt], kind: str, question: Question, turn: int,
                  prompt_set: str = "harness") -> JudgePrompt:
    """The prompt for one judgment.

    fastchat: FastChat's MT-bench choice (pair-v2 / single-v1, their -math-v1 forms with a reference for
    math, reasoning and coding, the -multi-turn forms for turn 2; FastChat has none past turn 2, so later
    turns use this project's multi-turn prompts). harness: reference-guided on turn 1 when a reference
    exists, multi-turn later.
    """
    if prompt_set == "fastchat" and turn <= 2:
        name = _FASTCHAT_NAMES[(kind, uses_reference(question, "fastchat"), turn)]
    elif kind == "pairwise":
        name = (
            "pairwise-multi-turn"
            if turn > 1
            else "pairwise-reference"
            if _reference(question, turn)
            else "pairwise-general"
        )
    else:
        name = "single-multi-turn" if turn > 1 else "single-general"
    if name not in prompts:
        found = next(PROMPTS_DIR.glob(f"*{name}.yaml"), None)
        raise HarnessError(f"judge prompt {name!r} is missing",
                           hint=f"restore tasks/judge_prompts/{found.name if found else name + '.yaml'}")
    return prompts[name]


def _numbered(question: Question, turn: int, answers: dict[str, Sequence[str]], fastchat: bool) -> dict[str, str]:
    """FastChat's numbered fields up to `turn` (question_1, answer_a_2, ref_answer_1, ...)."""
    fields = {f"question_{k}": question.turns[k - 1] for k in range(1, min(turn, 2) + 1)}
    for prefix, given in answers.items():
        fields.update({f"{prefix}_{k}": given[k - 1] for k in range(1, min(turn, 2) + 1)})
    refs = question.references if uses_reference(question, "fastchat" if fastchat else "harness") else None
    fields.update({f"ref_answer_{k}": refs[k - 1] for k in (1, 2) if refs and len(refs) >= k})
    return {**{k: "" for k in _EMPTY_FIELDS if k[-1].isdigit()}, **fields}


def _reference(question: Question, turn: int) -> str | None:
    refs = question.references
    return refs[turn - 1] if refs and len(refs) >= turn else None


def _reference_section(question: Question, turn: int) -> str:
    ref = _reference(question, turn)
    return f"[Reference answer to the last question]\n{ref}\n[End of reference answer]\n\n" if ref else ""


def _conversation(question: Question, answers: Sequence[str], turn: int, who: str) -> str:
    parts = [f"### User:\n{q}\n\n### {who}:\n{a}" for q, a in zip(question.turns[:turn], answers[:turn])]
    return "\n\n".join(parts)


def render_pairwise(
    prompt: JudgePrompt, question: Question, turn: int, first: Sequence[str], second: Sequence[str]
) -> list[dict[str, str]]:
    """Chat messages asking to compare `first` (shown as A) and `second` (shown as B) at `turn` (1-based)."""
    numbered = _numbered(question, turn, {"answer_a": first, "answer_b": second}, _is_fastchat(prompt))
    user = prompt.template.format(
        **numbered,
        question=question.turns[turn - 1],
        answer_a=first[turn - 1],
        answer_b=second[turn - 1],
        reference=_reference(question, turn) or "",
        reference_section=_reference_section(question, turn),
        conversation_a=_conversation(question, first, turn, "Assistant A"),
        conversation_b=_conversation(question, second, turn, "Assistant B"),
        answer="",
        conversation="",
    )
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]


def render_single(
    prompt: JudgePrompt, question: Question, turn: int, answers: Sequence[str]
) -> list[dict[str, str]]:
    """Chat messages asking to grade `answers` at `turn` (1-based)."""
    numbered = _numbered(question, turn, {"answer": answers}, _is_fastchat(prompt))
    user = prompt.template.format(
        **numbered,
        question=question.turns[turn - 1],
        answer=answers[turn - 1],
        reference=_reference(question, turn) or "",
        reference_section=_reference_section(question, turn),
        conversation=_conversation(question, answers, turn, "Assistant"),
        answer_a="",
        answer_b="",
        conversation_a="",
        conversation_b="",
    )
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]


def _is_fastchat(prompt: JudgePrompt) -> bool:
    return prompt.name in _FASTCHAT_NAMES.values()
