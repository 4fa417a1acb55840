"""Which process of a distributed launch (`accelerate launch`, torchrun) writes to the store: global rank 0.

lm-eval gathers every rank's requests and returns results on rank 0 only (`None` elsewhere); the other ranks
compute their share of the same tasks and write nothing. Read from the launcher's environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def is_main_rank(environ: Mapping[str, str] | None = None) -> bool:
    """True for a plain process and for rank 0 of a launch (RANK and LOCAL_RANK both 0 or unset)."""
    env = os.environ if environ is None else environ
    return int(env.get("RANK") or 0) == 0 and int(env.get("LOCAL_RANK") or 0) == 0
