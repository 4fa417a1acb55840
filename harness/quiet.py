"""Third-party progress bars and INFO lines, switched off for a block of work that shows its own progress.

transformers, datasets and TRL draw tqdm bars ("Loading weights", "Truncating train dataset", "Writing model
shards") and log INFO lines: fine-tunes and the tiny-model build run inside `quiet_hugging_face()`. lm-eval has
no switch: its request bars ("Tokenizing inputs", "Running loglikelihood requests") call `tqdm` directly, so
`library_bars_off()` (eval, generate) also gives its modules a disabled `tqdm` for the block. Both restore what
was set before on the way out.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

_QUIET_LOGGERS = ("transformers", "datasets", "trl", "accelerate", "peft")
# lm-eval modules that call tqdm for their own bars (only those already imported are touched).
LM_EVAL_BAR_MODULES = ("lm_eval.api.task", "lm_eval.api.model", "lm_eval.models.huggingface",
                       "lm_eval.models.vllm_causallms", "lm_eval.models.api_models", "lm_eval.evaluator")


@contextmanager
def quiet_hugging_face() -> Iterator[None]:
    """Turn off Hugging Face's progress bars and its INFO logging inside the block; warnings still show."""
    import datasets
    import transformers

    hf_logging = transformers.utils.logging
    bars_were_on = hf_logging.is_progress_bar_enabled()
    datasets_bars_were_on = not datasets.utils.are_progress_bars_disabled()
    levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    hf_logging.disable_progress_bar()  # also the hub's bars
    datasets.disable_progress_bars()
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger(name).getEffectiveLevel()))
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if datasets_bars_were_on:
            datasets.enable_progress_bars()
        if bars_were_on:
            hf_logging.enable_progress_bar()


def _silent_tqdm(original: Any) -> Any:
    def silent(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **{**kwargs, "disable": True})

    return silent


@contextmanager
def library_bars_off() -> Iterator[None]:
    """`quiet_hugging_face()`, and inside the block lm-eval draws no tqdm bars either."""
    # imported here, not at the top: unittest.mock imports asyncio (~30 ms of every eval command's start)
    from unittest import mock

    with ExitStack() as stack:
        import lm_eval.api.model
        import lm_eval.api.task  # noqa: F401 -- imported so that their bars are off from the first call

        stack.enter_context(quiet_hugging_face())
        for name in LM_EVAL_BAR_MODULES:
            module = sys.modules.get(name)
            if module is not None and hasattr(module, "tqdm"):
                stack.enter_context(mock.patch.object(module, "tqdm", _silent_tqdm(module.tqdm)))
        yield
