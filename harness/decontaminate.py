"""`harness decontaminate`: which fine-tuning records contain evaluation documents (n-gram overlap).

An evaluation document is its prompt plus its answer (the task's `doc_to_decontamination_query` when it defines
one), normalised and split into word n-grams exactly as lm-eval's decontamination `Janitor` does (lower case,
punctuation deleted, 13-grams by default, as in GPT-3). A document shorter than n words is one gram of its own
length, so short questions with their answers (two-digit sums) are still found. A training record (an Alpaca row,
a ShareGPT conversation) that shares a gram with a document is contaminated for that task.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

EXAMPLES_PER_TASK = 3


@dataclass(frozen=True)
class Overlap:
    """One contaminated pair: a training record and an evaluation document that share `gram`."""

    task: str
    doc_id: int
    record: str  # file:index
    gram: str


@dataclass
class TaskOverlap:
    """One task's documents and how many of them (and which training records) overlap."""

    docs: int
    contaminated_docs: set[int] = field(default_factory=set)
    records: set[str] = field(default_factory=set)
    examples: list[Overlap] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"docs": self.docs, "contaminated_docs": len(self.contaminated_docs),
                "contaminated_records": len(self.records), "examples": [vars(e) for e in self.examples]}


@dataclass(frozen=True)
class Report:
    """What `harness decontaminate` found; `contaminated` holds the records to drop (file:index)."""

    ngram: int
    files: list[str]
    records: int
    tasks: dict[str, TaskOverlap]
    contaminated: set[str]

    def to_json(self) -> dict[str, Any]:
        return {"ngram": self.ngram, "files": self.files, "records": self.records,
                "contaminated_records": len(self.contaminated),
                "tasks": {name: t.to_json() for name, t in sorted(self.tasks.items())}}


def _janitor(n: int) -> Any:
    # lm-eval's janitor prints a warning (and a traceback) to stdout when its optional C++ module is absent
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from lm_eval.decontamination.janitor import Janitor
    return Janitor(ngram_n=n)


def _grams(words: list[str], n: int) -> list[str]:
    from lm_eval.decontamination.janitor import word_ngrams

    if not words:
        return []
    return list(word_ngrams(" ".join(words), min(n, len(words))))


def _query(task: Any, doc: dict[str, Any]) -> str:
    if task.should_decontaminate():
        return str(task.doc_to_decontamination_query(doc))
    target = task.doc_to_target(doc)
    if isinstance(target, int) and task.config.doc_to_choice is not None:
        target = task.doc_to_choice(doc)[target]
    return f"{task.doc_to_text(doc)} {target}"


def evaluation_grams(task_names: list[str], n: int) -> tuple[dict[str, dict[str, set[int]]], dict[str, int]]:
    """gram -> {task: doc ids}, and each task's document count, for the tasks (groups expand to subtasks)."""
    from harness.eval.suites import task_manager

    janitor = _janitor(n)
    manager = task_manager(task_names)
    try:
        loaded = manager.load(task_names)["tasks"]
    except Exception as exc:  # a hub dataset that cannot be fetched offline
        raise HarnessError(f"cannot load the documents of {', '.join(task_names)}: {exc}",
                           hint="tasks on the hub need network; the project's own tasks need none") from exc
    grams: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    counts = {}
    for name, task in sorted(loaded.items()):
        docs = list(task.eval_docs)
        counts[name] = len(docs)
        for doc_id, doc in enumerate(docs):
            for gram in _grams(janitor.normalize_string(_query(task, doc)).split(), n):
                grams[gram][name].add(doc_id)
    return grams, counts


def _record_text(record: Any) -> str:
    """The words of a training record as written: Alpaca fields, or every ShareGPT turn."""
    if isinstance(record, dict) and isinstance(record.get("conversations"), list):
        return "\n".join(str(t.get("value", "")) for t in record["conversations"] if isinstance(t, dict))
    if isinstance(record, dict):
        return "\n".join(str(record.get(k, "")) for k in ("instruction", "input", "output"))
    return str(record)


def read_training_records(paths: list[str]) -> list[tuple[str, Any]]:
    """(file:index, record) for every record of the data files (JSON list, one object or JSONL)."""
    from fine_tune.data import data_files, read_records

    return [(f"{file.name}:{i}", record) for path in paths for file in data_files(Path(path))
            for i, record in enumerate(read_records(file))]


def decontaminate(data: list[str], task_names: list[str], n: int = 13) -> Report:
    """Overlap between the training records in `data` and the evaluation documents of `task_names`."""
    return reports_by_file(data, task_names, n)[0]


def reports_by_file(data: list[str], task_names: list[str], n: int = 13) -> tuple[Report, list[Report]]:
    """The report over all of `data`, and one per `data` path (what a model card's data digest names)."""
    if n < 1:
        raise HarnessError(f"--ngram {n} must be at least 1", hint="13 is lm-eval's and GPT-3's choice")
    grams, counts = evaluation_grams(task_names, n)
    each = [_overlap([path], read_training_records([path]), grams, counts, n) for path in data]
    return (each[0] if len(each) == 1 else _merged(each)), each


def _merged(reports: list[Report]) -> Report:
    """One report over several paths' reports (each path is read and scanned once)."""
    tasks = {name: TaskOverlap(t.docs) for name, t in reports[0].tasks.items()}
    for report in reports:
        for name, t in report.tasks.items():
            tasks[name].contaminated_docs |= t.contaminated_docs
            tasks[name].records |= t.records
            tasks[name].examples += t.examples[:EXAMPLES_PER_TASK - len(tasks[name].examples)]
    return Report(reports[0].ngram, [f for r in reports for f in r.files], sum(r.records for r in reports), tasks,
                  set().union(*(r.contaminated for r in reports)))


def _overlap(data: list[str], records: list[tuple[str, Any]], grams: dict[str, dict[str, set[int]]],
             counts: dict[str, int], n: int) -> Report:
    lengths = sorted({len(g.split()) for g in grams})
    janitor = _janitor(n)
    tasks = {name: TaskOverlap(docs) for name, docs in counts.items()}
    contaminated: set[str] = set()
    for source, record in records:
        words = janitor.normalize_string(_record_text(record)).split()
        for length in lengths:
            for gram in (" ".join(words[i:i + length]) for i in range(len(words) - length + 1)):
                for name, doc_ids in grams.get(gram, {}).items():
                    overlap = tasks[name]
                    if source not in overlap.records and len(overlap.examples) < EXAMPLES_PER_TASK:
                        overlap.examples.append(Overlap(name, min(doc_ids), source, gram))
                    overlap.records.add(source)
                    overlap.contaminated_docs |= doc_ids
                    contaminated.add(source)
    return Report(n, list(data), len(records), tasks, contaminated)


def contamination_rows(report: Report) -> list[dict[str, Any]]:
    """The store's rows for a one-path report, keyed by the data's sha256 as a model card records it."""
    from fine_tune.data import data_sha256

    (path,) = report.files
    digest = data_sha256(path)
    return [{"data_sha256": digest, "task": name, "ngram": report.ngram, "data": path, "docs": t.docs,
             "contaminated_docs": len(t.contaminated_docs), "records": report.records,
             "contaminated_records": len(t.records), "examples": [vars(e) for e in t.examples]}
            for name, t in sorted(report.tasks.items())]


def write_clean(data: list[str], report: Report, out: str | Path) -> int:
    """Write the records of `data` that no task contaminates to `out` (a JSON list); returns how many."""
    kept = [record for source, record in read_training_records(data) if source not in report.contaminated]
    Path(out).write_text(json.dumps(kept, ensure_ascii=False, indent=1))
    return len(kept)
