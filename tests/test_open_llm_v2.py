"""The Open LLM Leaderboard v2 normalised average: a hand-computed golden example."""

from __future__ import annotations

import pytest

from harness.eval.open_llm_v2 import normalise, open_llm_v2_scores
from harness.records import Score


def _s(task: str, metric: str, value: float, n: int = 100) -> Score:
    return Score(task=task, metric=metric, filter="none", value=value, stderr=None, n=n)


def test_normalisation_maps_random_to_zero_and_clips() -> None:
    assert normalise(0.25, 0.25) == 0.0 and normalise(1.0, 0.25) == 100.0 and normalise(0.1, 0.25) == 0.0
    assert normalise(0.5, 0.0) == 50.0


def test_golden_average() -> None:
    scores = [
        _s("leaderboard_ifeval", "prompt_level_strict_acc", 0.5), _s("leaderboard_ifeval", "inst_level_strict_acc", 0.7),
        _s("leaderboard_bbh_navigate", "acc_norm", 0.75), _s("leaderboard_bbh_geometric_shapes", "acc_norm", 0.2),
        _s("leaderboard_math_algebra_hard", "exact_match", 0.1, 100),
        _s("leaderboard_math_geometry_hard", "exact_match", 0.3, 300),
        _s("leaderboard_math_hard", "exact_match", 0.99),  # the group's own aggregate is not a subtask
        _s("leaderboard_gpqa_diamond", "acc_norm", 0.4, 100), _s("leaderboard_gpqa_main", "acc_norm", 0.55, 300),
        _s("leaderboard_musr_murder_mysteries", "acc_norm", 0.6),
        _s("leaderboard_musr_object_placements", "acc_norm", 0.4),
        _s("leaderboard_musr_team_allocation", "acc_norm", 0.5),
        _s("leaderboard_mmlu_pro", "acc", 0.37),
    ]
    choices = {"leaderboard_bbh_navigate": 2, "leaderboard_bbh_geometric_shapes": 4, "leaderboard_gpqa_diamond": 4,
               "leaderboard_gpqa_main": 4, "leaderboard_musr_murder_mysteries": 2,
               "leaderboard_musr_object_placements": 5, "leaderboard_musr_team_allocation": 3,
               "leaderboard_mmlu_pro": 10}
    result = open_llm_v2_scores(scores, choices)
    assert result.benchmarks == pytest.approx({"IFEval": 60.0, "BBH": 25.0, "MATH Lvl 5": 25.0, "GPQA": 35.0,
                                               "MuSR": 70 / 3, "MMLU-Pro": 30.0})
    assert result.average == pytest.approx((60 + 25 + 25 + 35 + 70 / 3 + 30) / 6)
    partial = open_llm_v2_scores([s for s in scores if "ifeval" not in s.task], choices)
    assert partial.benchmarks["IFEval"] is None and partial.average is None


def test_choices_are_counted_from_the_sample_logs() -> None:
    from harness.eval.rescore import choices_per_task
    from harness.records import SampleRecord

    def sample(task: str, resps: list) -> SampleRecord:
        return SampleRecord(task=task, doc_id=0, filter="none", doc_hash=None, prompt_hash=None, target_hash=None,
                            prompt=None, target=None, prediction=None, metrics={}, log={"filtered_resps": resps})

    pairs = [[-1.0, False], [-2.0, True], [-3.0, False], [-4.0, False]]
    found = choices_per_task([sample("mc", pairs), sample("mc", pairs[:2]), sample("gen", ["42"])])
    assert found == {"mc": 3.0}
