"""Prompt formats as data: the Alpaca and Vicuna v1.1 chat templates, shared by `harness eval` and `fine_tune/`.

A template is a Jinja string in the Hugging Face `chat_template` dialect, so it can be attached to any
tokenizer that lacks one (`attach_chat_template`) and saved with a fine-tuned model.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.fingerprint import content_hash

ALPACA_PREAMBLE = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
)
ALPACA_PREAMBLE_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request."
)
VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)

# Alpaca is single-turn: the user block already ends with the response header, so add_generation_prompt
# changes nothing. Later turns repeat the instruction block after the previous answer's eos.
ALPACA_JINJA = (
    "{%- if messages[0]['role'] == 'system' -%}{%- set preamble = messages[0]['content'] -%}"
    "{%- set msgs = messages[1:] -%}{%- else -%}"
    "{%- set preamble = '" + ALPACA_PREAMBLE + "' -%}{%- set msgs = messages -%}{%- endif -%}"
    "{{- preamble + '\\n\\n' -}}"
    "{%- for m in msgs -%}"
    "{%- if m['role'] == 'user' -%}{{- '### Instruction:\\n' + m['content'] + '\\n\\n### Response:\\n' -}}"
    "{%- elif m['role'] == 'assistant' -%}{{- m['content'] + eos_token -}}"
    "{%- if not loop.last -%}{{- '\\n\\n' -}}{%- endif -%}{%- endif -%}"
    "{%- endfor -%}"
)

# FastChat's `vicuna_v1.1` conversation (SeparatorStyle.ADD_COLON_TWO, sep=" ", sep2="</s>").
VICUNA_JINJA = (
    "{%- if messages[0]['role'] == 'system' -%}{%- set system = messages[0]['content'] -%}"
    "{%- set msgs = messages[1:] -%}{%- else -%}"
    "{%- set system = '" + VICUNA_SYSTEM.replace("'", "\\'") + "' -%}{%- set msgs = messages -%}{%- endif -%}"
    "{{- system + ' ' -}}"
    "{%- for m in msgs -%}"
    "{%- if m['role'] == 'user' -%}{{- 'USER: ' + m['content'] + ' ' -}}"
    "{%- elif m['role'] == 'assistant' -%}{{- 'ASSISTANT: ' + m['content'] + eos_token -}}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- 'ASSISTANT:' -}}{%- endif -%}"
)

REPLY_PROBE = "\x1freply\x1f"


def render_chat(jinja: str, messages: list[dict[str, str]], add_generation_prompt: bool = False,
                eos_token: str = "</s>", bos_token: str = "<s>") -> str:
    """Render a Hugging Face chat template the way transformers does (sandboxed jinja, trimmed blocks)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> Any:
        raise HarnessError(f"chat template error: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(jinja).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                         eos_token=eos_token, bos_token=bos_token)


BUILTIN_TEMPLATES = {"alpaca": ALPACA_JINJA, "vicuna": VICUNA_JINJA}


@dataclass(frozen=True)
class ChatTemplate:
    """A named chat template and the hash that runs record."""

    name: str
    jinja: str

    @property
    def hash(self) -> str:
        return content_hash(self.jinja)

    @cached_property
    def reply_delimiter(self) -> str:
        """The text the template puts between its generation prompt and the reply (Vicuna: " ", Alpaca: "").

        lm-eval scores choices under a chat template right after the generation prompt, with no delimiter; a
        model trained on this template saw the reply after this text, so choices are scored after it too.
        """
        probe = [{"role": "user", "content": "q"}]
        prompt = render_chat(self.jinja, probe, add_generation_prompt=True)
        full = render_chat(self.jinja, [*probe, {"role": "assistant", "content": REPLY_PROBE}])
        if not full.startswith(prompt) or REPLY_PROBE not in full[len(prompt):]:
            return ""
        return full[len(prompt):full.index(REPLY_PROBE, len(prompt))]


def load_chat_template(name: str) -> ChatTemplate:
    """Resolve `alpaca`, `vicuna` or a path to a `.jinja` file into a template.

    Raises:
        HarnessError: the name is neither built in nor an existing file.
    """
    if name in BUILTIN_TEMPLATES:
        return ChatTemplate(name, BUILTIN_TEMPLATES[name])
    path = Path(name)
    if path.is_file():
        return ChatTemplate(path.stem, path.read_text())
    raise HarnessError(
        f"unknown chat template {name!r}",
        hint=f"use one of {', '.join(sorted(BUILTIN_TEMPLATES))} or the path of a .jinja file",
    )


def tokenizer_template(jinja: str) -> ChatTemplate:
    """A tokenizer's own template, named after the built-in one it equals (a fine-tune saves `alpaca`)."""
    names = [name for name, text in BUILTIN_TEMPLATES.items() if text.strip() == jinja.strip()]
    return ChatTemplate(names[0] if names else "tokenizer", jinja)


def render_alpaca_prompt(instruction: str, input_text: str = "") -> str:
    """The stanford_alpaca prompt (with or without input) up to and including `### Response:\\n`."""
    if input_text:
        return (
            f"{ALPACA_PREAMBLE_INPUT}\n\n### Instruction:\n{instruction}\n\n"
            f"### Input:\n{input_text}\n\n### Response:\n"
        )
    return f"{ALPACA_PREAMBLE}\n\n### Instruction:\n{instruction}\n\n### Response:\n"
