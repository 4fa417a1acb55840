"""Suites (named task lists in tasks/suites/*.yaml) and the lm-eval TaskManager that finds their tasks.

The project's own tasks load from tasks/ alone; lm-eval's ~14k bundled YAMLs are indexed only when a
requested name is not local (indexing them costs about 6 s).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.errors import HarnessError
from harness.eval.config import Suite, SuiteTask
from harness.fingerprint import content_hash
from harness.resources import tasks_dir

log = logging.getLogger(__name__)
TASKS_DIR = tasks_dir()
SUITES_DIR = TASKS_DIR / "suites"


def list_suites() -> list[Suite]:
    """Every suite in tasks/suites/, sorted by name."""
    return [load_suite(p.stem) for p in sorted(SUITES_DIR.glob("*.yaml"))]


def load_suite(name: str) -> Suite:
    """Read `tasks/suites/NAME.yaml` (or a path to a suite file)."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else SUITES_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(SUITES_DIR.glob("*.yaml")))
        raise HarnessError(f"unknown suite {name!r}", hint=f"use one of: {known}, or --tasks T1,T2")
    try:
        return Suite.model_validate(yaml.safe_load(path.read_text()))
    except (ValidationError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise HarnessError(f"suite file {path} is invalid: {first}", hint="see tasks/suites/smoke.yaml") from exc


def resolve_tasks(suite: str | None, tasks: list[str], num_fewshot: int | None) -> list[SuiteTask]:
    """The task list of `--suite` or `--tasks`, with a global `--num-fewshot` applied on top."""
    if bool(suite) == bool(tasks):
        raise HarnessError("give exactly one of --suite and --tasks", hint="e.g. --suite smoke")
    entries = load_suite(suite).tasks if suite else [SuiteTask(task=t) for t in tasks]
    if num_fewshot is not None:
        entries = [e.model_copy(update={"num_fewshot": num_fewshot}) for e in entries]
    return entries


def task_manager(names: list[str]) -> Any:
    """A TaskManager that knows `names`: local tasks only when that suffices, else lm-eval's too.

    Raises:
        HarnessError: a name is neither a local nor an lm-eval task.
    """
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    if not set(names) <= set(manager.all_tasks):
        log.info("indexing lm-eval's bundled tasks for %s", sorted(set(names) - set(manager.all_tasks)))
        manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=True)
    unknown = sorted(set(names) - set(manager.all_tasks))
    if unknown:
        raise HarnessError(
            f"unknown task {', '.join(unknown)}", hint="list tasks with `lm-eval ls tasks` or see tasks/"
        )
    return manager


_DEFINES = re.compile(r"^(?:task|group):\s*([\w.\-]+)\s*$", re.MULTILINE)


def local_task_spec(names: list[str]) -> str | None:
    """A hash of every file under tasks/ when all `names` are the project's own tasks, else None.

    The project's tasks are fully defined by those files (their data is built by code there), so this hash
    stands in for lm-eval's loaded configs when looking up the store, without importing lm-eval. Any edit
    under tasks/ changes it; lm-eval's own version is part of the key too.
    """
    from importlib.metadata import version

    files = sorted(p for p in TASKS_DIR.rglob("*") if p.suffix in (".yaml", ".yml", ".py") and p.is_file())
    defined = {m for p in files if p.suffix != ".py" for m in _DEFINES.findall(p.read_text())}
    if not names or not set(names) <= defined:
        return None
    contents = {str(p.relative_to(TASKS_DIR)): content_hash(p.read_bytes()) for p in files}
    return content_hash({"files": contents, "lm_eval": version("lm_eval")})
