"""lm-eval's result dictionaries as records: `simple_evaluate`'s results and groups become `Score` rows, its
logged samples become `SampleRecord`s. Pure: dictionaries in, records out.
"""

from __future__ import annotations

import json
import math
from typing import Any

from harness.records import SampleRecord, Score


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def parse_scores(results: dict[str, Any]) -> list[Score]:
    """lm-eval's `results` (and `groups`) dicts as flat `Score` rows."""
    rows = []
    sections = {**results.get("results", {}), **results.get("groups", {})}
    for task, metrics in sections.items():
        n_samples = results.get("n-samples", {}).get(task, {}).get("effective") or metrics.get("sample_len")
        better = results.get("higher_is_better", {}).get(task, {})
        for key, value in metrics.items():
            if "," not in key or "_stderr," in key:
                continue
            metric, filt = key.split(",", 1)
            rows.append(
                Score(
                    task=task,
                    metric=metric,
                    filter=filt,
                    value=_number(value),
                    stderr=_number(metrics.get(f"{metric}_stderr,{filt}")),
                    n=int(n_samples) if n_samples is not None else None,
                    higher_is_better=better.get(metric),
                )
            )
    return rows


def _prediction(sample: dict[str, Any]) -> str:
    resps = sample.get("filtered_resps")
    if not resps:
        return ""
    if isinstance(resps[0], (list, tuple)) and len(resps[0]) == 2 and isinstance(resps[0][1], bool):
        best = max(range(len(resps)), key=lambda i: resps[i][0])  # multiple choice: the likeliest choice
        args = sample.get("arguments") or []
        return str(args[best][1]) if best < len(args) else str(best)
    return str(resps[0])


def sample_log(sample: dict[str, Any]) -> dict[str, Any]:
    """An lm-eval sample as plain JSON (tuples become lists), as `--log_samples` keeps it in memory."""
    return dict(json.loads(json.dumps(sample, default=str)))


def parse_samples(task: str, samples: list[dict[str, Any]]) -> list[SampleRecord]:
    """lm-eval's logged samples as `SampleRecord`s (numeric per-sample metrics only)."""
    records = []
    for s in samples:
        args = s.get("arguments") or [[""]]
        first = args[0][0] if isinstance(args[0], (list, tuple)) else args[0]
        metrics = {m: v for m in s.get("metrics", []) if (v := _number(s.get(m))) is not None}
        records.append(
            SampleRecord(
                task=task,
                doc_id=int(s["doc_id"]),
                filter=str(s.get("filter", "none")),
                doc_hash=s.get("doc_hash"),
                prompt_hash=s.get("prompt_hash"),
                target_hash=s.get("target_hash"),
                prompt=str(first),
                target=str(s.get("target")),
                prediction=_prediction(s),
                metrics=metrics,
                log=sample_log(s),
            )
        )
    return records
