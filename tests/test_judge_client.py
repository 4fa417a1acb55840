"""Pieces of the judge client and config: retry delays, Retry-After parsing, prices, env-configured judge."""

from __future__ import annotations

import email.utils
import time

import pytest

from harness.client import RetryPolicy, parse_retry_after, price_for
from harness.judge.offline import OFFLINE_JUDGE
from harness.judge.plan import JudgeConfig, judge_config_from_env, model_pairs


def test_retry_policy_backs_off_exponentially_and_obeys_retry_after():
    policy = RetryPolicy(base_delay=1.0, multiplier=2.0, max_delay=5.0, jitter=0.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert policy.delay(1, retry_after=3.5) == 3.5 and policy.delay(4, retry_after=0.0) == 0.0
    assert policy.delay(1, retry_after=600) == 5.0  # capped
    jittered = RetryPolicy(base_delay=1.0, jitter=0.1).delay(1)
    assert 1.0 <= jittered <= 1.1


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < parse_retry_after({"retry-after": future}) <= 30
    assert parse_retry_after({}) is None and parse_retry_after(None) is None


def test_prices_match_the_longest_prefix():
    assert price_for("gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert price_for("gpt-4o-2024-08-06") == (2.50, 10.00)
    assert price_for("gpt-4-0613") == (30.00, 60.00)
    assert price_for("my-local-judge") == (0.0, 0.0)
    assert price_for("gpt-4o", override=(1.0, 2.0)) == (1.0, 2.0)


def test_judge_from_env_is_offline_unless_configured(monkeypatch):
    monkeypatch.delenv("HARNESS_JUDGE", raising=False)
    monkeypatch.delenv("HARNESS_JUDGE_BASE_URL", raising=False)
    offline = judge_config_from_env(["a", "b"], "arith")
    assert offline.offline and offline.judge_name == OFFLINE_JUDGE
    monkeypatch.setenv("HARNESS_JUDGE", "qwen")
    monkeypatch.setenv("HARNESS_JUDGE_BASE_URL", "http://127.0.0.1:8000/v1")
    online = judge_config_from_env(["a", "b"], "arith", concurrency=4)
    assert not online.offline and online.judge_name == "qwen" and online.concurrency == 4


def test_pairs_follow_fastchat_order():
    assert model_pairs(JudgeConfig(models=["a", "b", "c"], questions="x")) == [
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
    ]
    base = JudgeConfig(models=["a", "b", "c"], questions="x", mode="pairwise-baseline", baseline="b")
    assert model_pairs(base) == [("a", "b"), ("c", "b")]
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="--baseline"):
        model_pairs(JudgeConfig(models=["a"], questions="x", mode="pairwise-baseline"))
    with pytest.raises(HarnessError, match="two models"):
        model_pairs(JudgeConfig(models=["a"], questions="x"))
