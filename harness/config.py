"""The base of every typed configuration (pydantic v2, frozen, unknown keys refused) and its identity.

Each package keeps its own configs (`eval.config`, `judge.plan`, `arena.battles`, `gate`, `fine_tune.config`);
a config's identity is `config_hash(cfg)`: the content hash of its canonical JSON dump.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from harness.fingerprint import content_hash


class Frozen(BaseModel):
    """Base for every config: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def config_hash(config: BaseModel) -> str:
    """The content hash of a config's canonical JSON dump (same function as model fingerprints)."""
    return content_hash(config.model_dump(mode="json"))
