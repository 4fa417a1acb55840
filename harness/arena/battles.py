"""Battle sets as the arena computes over them: the rating config, the winner scores, the encoded arrays.

Shared by `harness.arena.ratings` (Elo, BT, reports) and `harness.arena.style` (style control), so
neither imports the other's internals. Pure numpy over `Battle` records, no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from harness.arena.bradley_terry import FloatArray, IntArray
from harness.config import Frozen
from harness.errors import HarnessError
from harness.records import WINNERS, Battle

Method = Literal["bt", "elo", "both"]
Control = Literal["length", "markdown"]
SCORE_A = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


class ArenaConfig(Frozen):
    """How `harness arena` rates a battle set."""

    method: Method = "both"
    """bt: Bradley-Terry with bootstrap CIs; elo: online Elo only; both."""
    bootstrap: int = Field(1000, ge=0)
    """Bootstrap rounds for the BT confidence intervals (0: none)."""
    seed: int = 0
    """Seed of the bootstrap's random generator."""
    anchor: tuple[str, float] | None = None
    """(model, rating): shift every rating so this model has this rating; default: BT mean 1000."""
    control: tuple[Control, ...] = ()
    """Style covariates for a controlled BT fit beside the raw one: length and/or markdown."""
    k: float = Field(4.0, gt=0)
    """Online Elo step size."""
    scale: float = Field(400.0, gt=0)
    """Elo points per factor `base` of odds."""
    base: float = Field(10.0, gt=1)
    """Odds base of the Elo scale."""
    initial: float = 1000.0
    """Online Elo start rating, and the BT mean when there is no anchor."""
    ci: float = Field(0.95, gt=0, lt=1)
    """Coverage of the percentile bootstrap intervals."""


@dataclass(frozen=True)
class EncodedBattles:
    """Battles as arrays: model indices into `models` (sorted names) and model_a's score (1, 0.5 or 0)."""

    models: tuple[str, ...]
    a: IntArray
    b: IntArray
    score: FloatArray


def encode_battles(battles: Sequence[Battle]) -> EncodedBattles:
    """Map model names to indices (sorted names) and winners to model_a's score; raises on a bad winner."""
    models = sorted({b.model_a for b in battles} | {b.model_b for b in battles})
    index = {name: k for k, name in enumerate(models)}
    try:
        score = np.fromiter((SCORE_A[b.winner] for b in battles), np.float64, len(battles))
    except KeyError as exc:
        raise HarnessError(f"battle winner {exc.args[0]!r} is not one of {sorted(SCORE_A)}") from None
    a = np.fromiter((index[b.model_a] for b in battles), np.int64, len(battles))
    b = np.fromiter((index[b.model_b] for b in battles), np.int64, len(battles))
    if np.any(a == b):
        raise HarnessError(f"battle {int(np.argmax(a == b))} has the same model on both sides")
    return EncodedBattles(tuple(models), a, b, score)


def battle_set_fingerprint(battles: Sequence[Battle]) -> str:
    """Content hash of the ordered (model_a, model_b, winner) triples: the key ratings are stored under."""
    digest = hashlib.sha256()
    for b in battles:
        digest.update(f"{b.model_a}\x1f{b.model_b}\x1f{b.winner}\x1e".encode())
    return "sha256:" + digest.hexdigest()


def encode_codes(models: tuple[str, ...], a: IntArray, b: IntArray, winner: IntArray) -> EncodedBattles:
    """Battles given as model indices into `models` (sorted names) and winner indices into `WINNERS`."""
    return EncodedBattles(models, a, b, np.array([SCORE_A[w] for w in WINNERS])[winner])


_TABLE_LIMIT = 1 << 24  # (model_a, model_b, winner) codes a lookup table covers: 2000 models


def codes_fingerprint(models: tuple[str, ...], a: IntArray, b: IntArray, winner: IntArray) -> str:
    """`battle_set_fingerprint` of battles given as codes (the same bytes hashed, each distinct
    (model_a, model_b, winner) triple spelled once)."""
    names, wins = [m.encode() for m in models], [w.encode() for w in WINNERS]
    m, w = len(models), len(WINNERS)
    combined = (a * m + b) * w + winner
    if m * m * w <= _TABLE_LIMIT:  # index the distinct triples through a table: no sort of a million codes
        present = np.zeros(m * m * w, bool)
        present[combined] = True
        distinct = np.flatnonzero(present)
        table = np.zeros(m * m * w, np.int64)
        table[distinct] = np.arange(len(distinct))
        inverse = table[combined]
    else:
        distinct, inverse = np.unique(combined, return_inverse=True)
    pieces = [names[c // (m * w)] + b"\x1f" + names[c // w % m] + b"\x1f" + wins[c % w] + b"\x1e"
              for c in distinct.tolist()]
    return "sha256:" + hashlib.sha256(b"".join(map(pieces.__getitem__, inverse.ravel().tolist()))).hexdigest()
