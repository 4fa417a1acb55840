"""The gate's config and records: what `harness gate` is asked (`GateConfig`), the runs its REFs resolved to
(`RunRef`), checks before and after Holm's correction (`Pending`, `Check`) and the decision (`GateReport`).

No I/O: `decide` builds them, `arena` adds arena checks, `report` renders them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.gate import stats
from harness.gate.paired import ALPHA, N_BOOTSTRAP, SEED, Direction, PairedSettings


@dataclass(frozen=True)
class RunRef:
    """A REF as given and what it resolved to."""

    ref: str
    run_id: str
    model: str
    via: str  # run id | baseline <name> | model name
    chat_template: str | None = None  # the template the run's prompts went through; None: raw prompts


class GateConfig(BaseModel):
    """Everything `harness gate` needs; the CLI builds one from its flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidate: str
    """Run id, model name (its newest finished run with the tasks) or pinned baseline name."""
    baseline: str
    """Same forms as `candidate`; usually a pinned name such as `main`."""
    suite: str | None = None
    """Gate on this suite's tasks (exclusive with `tasks`); default: every task of the baseline run."""
    tasks: list[str] = []
    """Gate on these tasks (exclusive with `suite`)."""
    alpha: float = Field(default=ALPHA, gt=0, lt=1)
    """Family-wise significance level (Holm across all checks)."""
    max_drop: float = Field(default=0.0, ge=0)
    """Tolerated absolute drop in the metric's units (0.02 = two accuracy points); also the win-rate drop."""
    max_rating_drop: float = Field(default=0.0, ge=0)
    """Tolerated drop of the arena Bradley-Terry rating, in rating points."""
    power: float = Field(default=0.8, gt=0, lt=1)
    """Power at which the minimum detectable effect is reported."""
    metric_direction_file: Path | None = None
    """YAML read into `MetricPolicy`."""
    continuous_test: Literal["bootstrap", "t"] = "bootstrap"
    """Paired test for continuous metrics: paired bootstrap (default) or paired t-test."""
    n_bootstrap: int = Field(default=N_BOOTSTRAP, ge=100)
    """Bootstrap replicates for continuous metrics and arena checks."""
    seed: int = SEED
    """Seed of every bootstrap."""
    arena: bool | None = None
    """Also gate on arena battles between the two models; None: yes when `judges` names their sources, or when
    `tasks` does not narrow the gate to named tasks."""
    judges: list[str] = []
    """Sources of the arena battles (human, crowd, judge models); empty: the store must hold only one."""

    @property
    def with_arena(self) -> bool:
        """Whether the arena checks run: asked for, or not asked about and (sources named or no `tasks` given)."""
        return self.arena if self.arena is not None else bool(self.judges) or not self.tasks

    def paired(self) -> PairedSettings:
        """The settings of every paired test this gate runs (the Compare page's defaults are the same)."""
        return PairedSettings(alpha=self.alpha, continuous_test=self.continuous_test,
                              n_bootstrap=self.n_bootstrap, seed=self.seed)


@dataclass(frozen=True)
class Check:
    """One gated comparison (a task, or an arena statistic) after Holm's correction."""

    name: str
    kind: str  # task | arena
    metric: str
    filter: str
    direction: Direction
    test: stats.PairedTest
    drop: float  # how much worse the candidate is, in the metric's units (negative: better)
    tolerance: float
    p_holm: float
    mde: float | None
    failed: bool
    reason: str


@dataclass(frozen=True)
class GateReport:
    """The gate's decision: every check, the resolved runs and notes on what was compared."""

    candidate: RunRef
    baseline: RunRef
    alpha: float
    max_drop: float
    checks: list[Check]
    notes: list[str] = field(default_factory=list)
    power: float = 0.8  # at which each check's minimum detectable effect is computed

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    @property
    def reason(self) -> str:
        """One line saying why the gate passed or failed."""
        if self.failed:
            return "FAIL: " + "; ".join(f"{c.name}: {c.reason}" for c in self.failed)
        return (f"PASS: no significant drop beyond {self.max_drop:g} on {len(self.checks)} check(s) "
                f"(alpha {self.alpha:g}, Holm-corrected)")

    def to_json(self) -> dict[str, Any]:
        """The `--json` document; non-finite numbers (an interval that could not be computed) become null."""
        checks = []
        for c in self.checks:
            t = c.test
            checks.append({
                "name": c.name, "kind": c.kind, "metric": c.metric, "filter": c.filter,
                "direction": c.direction,
                "method": t.method, "n": t.n, "baseline": t.baseline_mean, "candidate": t.candidate_mean,
                "effect": t.effect, "ci": [_finite(t.ci_low), _finite(t.ci_high)], "p_value": t.p_value,
                "p_holm": c.p_holm, "drop": c.drop, "tolerance": c.tolerance, "mde": _finite(c.mde),
                "counts": t.counts,
                "status": "fail" if c.failed else "pass", "reason": c.reason,
            })
        return {
            "verdict": "fail" if self.failed else "pass", "exit_code": self.exit_code, "reason": self.reason,
            "candidate": asdict(self.candidate), "baseline": asdict(self.baseline),
            "alpha": self.alpha, "max_drop": self.max_drop, "power": self.power, "checks": checks,
            "notes": self.notes,
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class Pending:
    """A paired test before the multiple-testing correction."""

    name: str
    kind: str
    metric: str
    filter: str
    direction: Direction
    test: stats.PairedTest
    tolerance: float
    spread: float | None  # discordance rate (binary) or sd of the differences, for the MDE; None: no MDE
    binary: bool = False
