"""Benchmark: `harness judge` throughput against a loopback judge that answers after 200 ms, and the re-run cost.

Run: .venv/bin/python bench/judge_throughput.py [--concurrency 64] [--delay 0.2] [--models 5] [--questions 48]
     [--workers N]   (default: harness judge's own default, one process per 32 calls in flight, at most one per CPU)
The loopback server runs in its own process (tests/openai_server.py), as a real endpoint would. Printed:
judgments/s of a full `run_judge` (planning, async calls, strict parsing, per-judgment store writes) as a
fraction of the limit concurrency/delay; the same for a bare AsyncOpenAI loop (the peer, same run, same
server); and the number of requests a re-run sends (should be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = """
import sys, time, threading
from tests.openai_server import FakeOpenAI, chat_reply
delay = float(sys.argv[1])
def respond(path, body):
    reply = chat_reply("Both are fine, the first is a little better. [[A]]", 400, 60)
    reply.delay = delay
    return reply
server = FakeOpenAI(respond)
print(server.url, flush=True)
for line in sys.stdin:
    print(len(server.requests), flush=True)
"""


def start_server(delay: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(delay)],
        cwd=ROOT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def request_count(proc: subprocess.Popen[str]) -> int:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("count\n")
    proc.stdin.flush()
    return int(proc.stdout.readline())


def make_store(folder: Path, n_models: int, n_questions: int) -> tuple[str, str, list[str]]:
    from harness.records import Generation
    from harness.store import open_store
    from harness.store.generations import write_generations

    questions = folder / "bench_q.jsonl"
    questions.write_text(
        "".join(
            json.dumps({"question_id": f"q{i}", "category": "bench", "turns": [f"Q{i}?"]}) + "\n"
            for i in range(n_questions)
        )
    )
    url = f"sqlite:///{folder / 'bench.db'}"
    models = [f"model-{m}" for m in range(n_models)]
    rows = [
        Generation(
            gen_key=f"{m}-{i}", content_key=f"c-{m}-{i}", model=m, model_fingerprint=f"fp-{m}", question_set="bench_q", question_id=f"q{i}", turns=[f"answer {i} of {m} " * 20], config={}
        )
        for m in models
        for i in range(n_questions)
    ]
    write_generations(open_store(url), rows)
    return url, str(questions), models


async def bare_loop(url: str, n: int, concurrency: int) -> float:
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with slots:
            await client.chat.completions.create(
                model="judge", messages=[{"role": "user", "content": f"q{i}"}]
            )

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--questions", type=int, default=48)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    import openai  # noqa: F401  (imported before the clock starts: a one-off 0.5-1 s, not throughput)

    from harness.judge.plan import JudgeConfig
    from harness.judge.run import run_judge

    limit = args.concurrency / args.delay
    os.environ["BENCH_JUDGE_KEY"] = "sk-bench"
    proc, url = start_server(args.delay)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store, questions, models = make_store(Path(tmp), args.models, args.questions)
            config = JudgeConfig(
                models=models,
                questions=questions,
                judge="judge",
                judge_base_url=url,
                judge_api_key_env="BENCH_JUDGE_KEY",
                concurrency=args.concurrency,
                price_per_mtok=(2.5, 10.0),
                workers=args.workers,
            )
            start = time.perf_counter()
            first = run_judge(config, store)
            elapsed = time.perf_counter() - start
            calls = first.stats.called
            before = request_count(proc)
            second = run_judge(config, store)
            rerun_requests = request_count(proc) - before
            bare = asyncio.run(bare_loop(url, calls, args.concurrency))
    finally:
        proc.terminate()
        proc.wait()
    rate, bare_rate = calls / elapsed, calls / bare
    print(
        f"loopback judge: {args.delay * 1000:.0f} ms per answer, concurrency {args.concurrency}, "
        f"limit {limit:.0f} judgments/s; {calls} judgments ({first.stats.battles_written} battles)"
    )
    print(
        f"harness judge:  {rate:7.1f} judgments/s  = {rate / limit:.2f} of the limit  ({elapsed:.2f} s, "
        f"calls per worker process {first.calls_by_worker})"
    )
    print(
        f"bare AsyncOpenAI loop: {bare_rate:7.1f} req/s = {bare_rate / limit:.2f} of the limit  ({bare:.2f} s)"
    )
    print(f"harness / bare loop: {rate / bare_rate:.2f}")
    print(
        f"re-run: {rerun_requests} requests, {second.stats.cached} of {second.stats.planned} judgments from the store"
    )
    print(
        f"cost accounted: ${first.usage.cost_usd:.4f} for {first.usage.prompt_tokens} + "
        f"{first.usage.completion_tokens} tokens"
    )
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f} on {} CPUs".format(*os.getloadavg(), os.cpu_count()))


if __name__ == "__main__":
    main()
