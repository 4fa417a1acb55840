"""The demo's figures over several seeds: what the READMEs quote, computed from the demo's own output.

Each `harness demo --seed S` run writes `OUT_DIR/figures.json`. `python -m fine_tune.demo_figures FILE...`
gathers such files into `fine_tune/demo_figures.json` (the runs plus their summary); the READMEs quote
`headline()` and `score_rows()`, and `tests/test_demo.py` checks that they still do.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

FIGURES_FILE = Path(__file__).resolve().parent / "demo_figures.json"
MODELS = ("tiny-base", "tiny-alpaca", "tiny-vicuna")
METRICS = ("arith_mc_acc", "arith_gen_exact_match")


def headline_holds(run: dict[str, Any]) -> bool:
    """The Alpaca variant beats its base on both held-out tasks, significantly (the reverse gate fails on both)."""
    behind = run["gate"]["base_vs_alpaca"]
    ahead = run["gate"]["alpaca_vs_base"]
    task_checks = [c for c in behind["checks"].values() if c["metric"] in ("acc", "exact_match")]
    return (ahead["exit_code"] == 0 and behind["exit_code"] == 1 and len(task_checks) == 2
            and all(c["status"] == "fail" and c["effect"] < 0 for c in task_checks))


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, min and max of every score over the runs (one per seed), and how many runs the headline held in."""
    seeds = sorted(run["seed"] for run in runs)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"one run per seed expected, got seeds {seeds}")
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for model in MODELS:
        scores[model] = {}
        for metric in METRICS:
            values = [run["scores"][model][metric]["value"] for run in runs]
            scores[model][metric] = {"mean": statistics.fmean(values), "min": min(values), "max": max(values)}
    effects = [-run["gate"]["base_vs_alpaca"]["checks"][name]["effect"] for run in runs
               for name in run["gate"]["base_vs_alpaca"]["checks"] if name.startswith("arith_gen")]
    return {"seeds": seeds, "scores": scores, "headline_held": sum(headline_holds(run) for run in runs),
            "smallest_exact_match_gain": min(effects) if effects else None,
            "largest_p_holm": max(c["p_holm"] for run in runs
                                  for c in run["gate"]["base_vs_alpaca"]["checks"].values()
                                  if c["metric"] in ("acc", "exact_match"))}


def spread(cell: dict[str, float]) -> str:
    """`0.940 (0.925–0.955)`: the mean over seeds and its range."""
    return f"{cell['mean']:.3f} ({cell['min']:.3f}–{cell['max']:.3f})"


def headline(summary: dict[str, Any]) -> str:
    """The README's sentence on the Alpaca variant, with the spread over seeds."""
    base, alpaca = summary["scores"]["tiny-base"], summary["scores"]["tiny-alpaca"]
    return (f"the Alpaca variant goes from {spread(base['arith_mc_acc'])} to {spread(alpaca['arith_mc_acc'])} "
            f"multiple-choice accuracy and from {spread(base['arith_gen_exact_match'])} to "
            f"{spread(alpaca['arith_gen_exact_match'])} exact match (mean and range over "
            f"{len(summary['seeds'])} seeds; significant in the gate on {summary['headline_held']} of them)")


def score_rows(summary: dict[str, Any]) -> list[str]:
    """The Markdown rows of fine_tune/README.md's demo table."""
    labels = {"tiny-base": "base, alpaca prompt", "tiny-alpaca": "alpaca variant", "tiny-vicuna": "vicuna variant"}
    return [f"| {labels[model]} | {spread(summary['scores'][model]['arith_mc_acc'])} | "
            f"{spread(summary['scores'][model]['arith_gen_exact_match'])} |" for model in MODELS]


def gather(paths: list[Path]) -> dict[str, Any]:
    """The runs in `paths` (figures.json files) and their summary, as written to `FIGURES_FILE`."""
    runs = sorted((json.loads(path.read_text()) for path in paths), key=lambda run: run["seed"])
    return {"runs": runs, "summary": summarize(runs)}


def main(argv: list[str]) -> None:
    """`python -m fine_tune.demo_figures FIGURES.json...`: write FIGURES_FILE and print the README lines."""
    document = gather([Path(arg) for arg in argv])
    FIGURES_FILE.write_text(json.dumps(document, indent=1) + "\n")
    print(headline(document["summary"]))
    print("\n".join(score_rows(document["summary"])))


if __name__ == "__main__":
    main(sys.argv[1:])
