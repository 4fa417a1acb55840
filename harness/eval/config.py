"""`harness eval`'s configuration: suites (tasks/suites/*.yaml), their entries, and the eval request.

The CLI builds an `EvalConfig` from its flags; `suites.load_suite` parses suite files into `Suite`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.config import Frozen

Backend = Literal["hf", "vllm", "local-completions", "local-chat-completions"]
API_BACKENDS = ("local-completions", "local-chat-completions")


class SuiteTask(Frozen):
    """One entry of a suite file."""

    task: str
    """An lm-eval task or group name (the project's own from tasks/, or any bundled one)."""
    num_fewshot: int | None = None
    """Few-shot examples for this task; None keeps the task's own default."""


class Suite(Frozen):
    """A named list of tasks: `tasks/suites/NAME.yaml`."""

    name: str
    """The name given to `--suite`."""
    description: str = ""
    """One line for `harness suites` and the leaderboard."""
    tasks: list[SuiteTask] = Field(min_length=1)
    """The tasks, evaluated in this order."""


class EvalConfig(Frozen):
    """Everything `harness eval` needs; the CLI builds one from its flags."""

    model: str
    """Checkpoint directory, hub id, PEFT adapter directory, or (local-completions) the served model name."""
    name: str | None = None
    """Name to store the model under; defaults to `model` as given."""
    suite: str | None = None
    """Suite name from tasks/suites/ (exclusive with `tasks`)."""
    tasks: list[str] = Field(default_factory=list)
    """Task names (exclusive with `suite`)."""
    backend: Backend = "hf"
    """hf (transformers), vllm (GPU, needs the vllm extra), local-completions or local-chat-completions
    (an OpenAI-compatible server's completions or chat completions endpoint)."""
    base_url: str | None = None
    """Endpoint for the API backends, e.g. http://127.0.0.1:8000/v1/completions or .../v1/chat/completions."""
    limit: int | None = None
    """Evaluate only the first N documents of each task (part of the cache key)."""
    num_fewshot: int | None = None
    """Few-shot count for every task, overriding the suite and the task defaults."""
    batch_size: str | None = None
    """`auto` or an integer; None means 16 on CPU (auto-detection is slow there) and auto on GPUs.
    Not part of the cache key."""
    device: str = "cpu"
    """cpu, cuda, cuda:0 ...; its class (cpu or cuda) is part of the cache key."""
    dtype: str = "auto"
    """Weights dtype for hf/vllm (auto, float32, bfloat16, float16)."""
    chat_template: str | None = None
    """alpaca, vicuna, `tokenizer` (the model's own) or a .jinja path; None evaluates raw prompts."""
    system_instruction: str | None = None
    """A system message put in front of every prompt (lm-eval's `system_instruction`; part of the cache key)."""
    gen_kwargs: dict[str, Any] | None = None
    """Generation settings for generate_until tasks (`temperature=0,top_p=0.9` or a dict; lm-eval's
    `gen_kwargs`, overriding the tasks' own; part of the cache key)."""
    fewshot_as_multiturn: bool | None = None
    """Few-shot examples as alternating user/assistant turns; None: on with a chat template, off without one
    (True needs a chat template)."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) of a hub model; part of the cache key."""
    max_length: int | None = Field(default=None, gt=0)
    """Context length the LM truncates to (lm-eval's `max_length`); None keeps the model's own."""
    seed: int | None = None
    """One seed for lm-eval's python, numpy, torch and few-shot sampling seeds; None keeps lm-eval's defaults
    (0, 1234, 1234, 1234)."""
    trust_remote_code: bool = False
    """Allow model repos to run their own code. Off unless asked for."""
    force: bool = False
    """Re-run tasks even when the store has them."""
    tensor_parallel_size: int = Field(default=1, ge=1)
    """vllm: GPUs each model replica is sharded over (vLLM's tensor parallelism). Not part of the cache key."""
    data_parallel_size: int = Field(default=1, ge=1)
    """vllm: model replicas the requests are split over (lm-eval runs one Ray actor per replica)."""
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    """vllm: share of each GPU's memory vLLM may take; None keeps vLLM's default (0.9)."""
    max_model_len: int | None = Field(default=None, ge=1)
    """vllm: context length to allocate the KV cache for; None keeps the model's own."""
    parallelize: bool = False
    """hf: shard the model over every visible GPU with accelerate's device map (naive model parallelism)."""

    @model_validator(mode="after")
    def _backend_flags(self) -> EvalConfig:
        vllm_only = {"tensor_parallel_size": self.tensor_parallel_size != 1,
                     "data_parallel_size": self.data_parallel_size != 1,
                     "gpu_memory_utilization": self.gpu_memory_utilization is not None,
                     "max_model_len": self.max_model_len is not None}
        if self.backend != "vllm" and (given := [k for k, on in vllm_only.items() if on]):
            raise ValueError(f"{given[0]} needs backend vllm, not {self.backend}")
        if self.parallelize and (self.backend != "hf" or not self.device.startswith("cuda")):
            raise ValueError(f"parallelize shards over GPUs: it needs backend hf and device cuda, not "
                             f"{self.backend} on {self.device}")
        return self

    @field_validator("gen_kwargs", mode="before")
    @classmethod
    def _parse_gen_kwargs(cls, value: Any) -> Any:
        """`key=val,key2=val2` parsed as lm-eval parses `--gen_kwargs` (its own `simple_parse_args_string`)."""
        if isinstance(value, str):
            from lm_eval.utils import simple_parse_args_string

            return simple_parse_args_string(value) or None
        return value
