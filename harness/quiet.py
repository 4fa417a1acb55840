"""Hugging Face's own progress bars and INFO lines, switched off for a block of work that shows its own progress.

transformers, datasets and TRL draw tqdm bars ("Loading weights", "Truncating train dataset", "Writing model
shards") and log INFO lines; the fine-tunes and the tiny-model build run inside `quiet_hugging_face()`, which
restores what was set before on the way out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

_QUIET_LOGGERS = ("transformers", "datasets", "trl", "accelerate", "peft")


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
