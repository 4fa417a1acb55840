"""Every suite's tasks resolve offline from lm-eval's configs index (only loading their data needs the hub)."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.eval.suites import SUITES_DIR, TASKS_DIR, list_suites


def test_every_suite_task_is_known_to_lm_eval_offline() -> None:
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=True)  # ~6 s: once for every suite
    known = set(manager.all_tasks)
    suites = {suite.name: suite for suite in list_suites()}
    assert {"smoke", "open_llm_v1", "open_llm_v2"} <= set(suites)
    for suite in suites.values():
        missing = [entry.task for entry in suite.tasks if entry.task not in known]
        assert not missing, f"suite {suite.name}: {missing}"


def test_open_llm_v2_has_the_leaderboards_benchmarks_and_shots() -> None:
    import lm_eval.tasks

    suite = {e.task: e.num_fewshot for e in next(s for s in list_suites() if s.name == "open_llm_v2").tasks}
    assert suite == {"leaderboard_ifeval": 0, "leaderboard_bbh": 3, "leaderboard_math_hard": 4,
                     "leaderboard_gpqa": 0, "leaderboard_musr": 0, "leaderboard_mmlu_pro": 5}
    # lm-eval's own `leaderboard` group is exactly these six
    group = yaml.safe_load((Path(lm_eval.tasks.__file__).parent / "leaderboard" / "leaderboard.yaml").read_text())
    assert sorted(group["task"]) == sorted(suite)
    assert (SUITES_DIR / "open_llm_v2.yaml").read_text().startswith("# harness eval")


def test_a_task_that_needs_the_tasks_extra_says_so(tiny_model_dir: Path) -> None:
    import importlib.util

    import pytest
    from typer.testing import CliRunner

    from harness.cli import app

    if importlib.util.find_spec("langdetect") is not None:
        pytest.skip("the tasks extra is installed here")
    result = CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir), "--tasks", "leaderboard_ifeval"])
    assert result.exit_code == 2 and "pip install -e '.[tasks]'" in result.stderr
    assert "langdetect" in result.stderr
