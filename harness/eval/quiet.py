"""Third-party progress bars off while harness shows its own rich progress (eval, generate).

transformers ("Loading weights", "Writing model shards"), huggingface_hub and datasets have switches for their
bars, which `library_bars_off` turns off and back on. lm-eval has none: its request bars ("Tokenizing inputs",
"Running loglikelihood requests") and its per-task context bar call `tqdm` directly, so inside the block the
`tqdm` its modules call is one that is disabled, and the original is put back on exit. Fine-tuning does not use
this: its training bar is its own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

# lm-eval modules that call tqdm for their own bars (only those already imported are touched).
LM_EVAL_BAR_MODULES = ("lm_eval.api.task", "lm_eval.api.model", "lm_eval.models.huggingface",
                       "lm_eval.models.vllm_causallms", "lm_eval.models.api_models", "lm_eval.evaluator")


def _silent_tqdm(original: Any) -> Any:
    def silent(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **{**kwargs, "disable": True})

    return silent


@contextmanager
def _switch(is_on: Any, off: Any, on: Any) -> Iterator[None]:
    was_on = bool(is_on())
    off()
    try:
        yield
    finally:
        if was_on:
            on()


@contextmanager
def library_bars_off() -> Iterator[None]:
    """Inside the block, transformers, huggingface_hub, datasets and lm-eval draw no tqdm bars."""
    with ExitStack() as stack:
        import datasets
        import lm_eval.api.model
        import lm_eval.api.task  # noqa: F401 -- imported so that their bars are off from the first call
        from transformers.utils import logging as hf_logging

        # transformers' switch covers huggingface_hub's bars too.
        stack.enter_context(_switch(hf_logging.is_progress_bar_enabled, hf_logging.disable_progress_bar,
                                    hf_logging.enable_progress_bar))
        stack.enter_context(_switch(datasets.is_progress_bar_enabled, datasets.disable_progress_bars,
                                    datasets.enable_progress_bars))
        for name in LM_EVAL_BAR_MODULES:
            module = sys.modules.get(name)
            if module is not None and hasattr(module, "tqdm"):
                stack.enter_context(mock.patch.object(module, "tqdm", _silent_tqdm(module.tqdm)))
        yield
