"""Scale-out flags without a GPU: what reaches lm-eval's VLLM and HFLM, bad combinations refused before the store,
the rank logic of `accelerate launch`, and Ray never imported unless asked for.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.eval.backends import hf_args, resolve_model, vllm_args
from harness.eval.config import EvalConfig
from harness.eval.ranks import is_main_rank
from harness.store import store_exists

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


def test_vllm_gets_tensor_and_data_parallel_memory_and_length(tiny_model_dir: Path) -> None:
    config = EvalConfig(model=str(tiny_model_dir), backend="vllm", device="cuda", tensor_parallel_size=2,
                        data_parallel_size=4, gpu_memory_utilization=0.85, max_model_len=4096, dtype="bfloat16")
    args = vllm_args(resolve_model(config), config)
    assert {k: args[k] for k in ("tensor_parallel_size", "data_parallel_size", "gpu_memory_utilization",
                                 "max_model_len", "dtype")} == {
        "tensor_parallel_size": 2, "data_parallel_size": 4, "gpu_memory_utilization": 0.85, "max_model_len": 4096,
        "dtype": "bfloat16"}
    plain = EvalConfig(model=str(tiny_model_dir), backend="vllm")
    defaults = vllm_args(resolve_model(plain), plain)
    assert (defaults["tensor_parallel_size"], defaults["data_parallel_size"]) == (1, 1)
    assert "gpu_memory_utilization" not in defaults and "max_model_len" not in defaults  # vLLM's own defaults


def test_hf_parallelize_reaches_hflm(tiny_model_dir: Path) -> None:
    sharded = EvalConfig(model=str(tiny_model_dir), device="cuda", parallelize=True)
    assert hf_args(resolve_model(sharded), sharded)["parallelize"] is True
    plain = EvalConfig(model=str(tiny_model_dir))
    assert hf_args(resolve_model(plain), plain)["parallelize"] is False


@pytest.mark.parametrize(("flags", "named"), [
    (["--tensor-parallel-size", "2"], "tensor_parallel_size needs backend vllm"),
    (["--max-model-len", "2048"], "max_model_len needs backend vllm"),
    (["--parallelize"], "it needs backend hf and device cuda"),
    (["--executor", "slurm"], "unknown executor 'slurm'"),
    (["--model", "/no/such/model", "--executor", "ray"], "no checkpoint at /no/such/model"),
    (["--model", "/no/such/model", "--name", "x"], "--name names one model"),
])
def test_bad_scale_out_flags_are_one_line_and_leave_no_store(tiny_model_dir: Path, store_url: str,
                                                             flags: list[str], named: str) -> None:
    result = runner.invoke(app, ["eval", "--model", str(tiny_model_dir), "--suite", "smoke", *flags])
    assert result.exit_code == 2, result.output
    assert named in result.stderr and "Traceback" not in result.output
    assert not store_exists(store_url)


def test_rank_is_read_like_lm_eval() -> None:
    assert is_main_rank({}) and is_main_rank({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "8"})
    assert not is_main_rank({"RANK": "3", "LOCAL_RANK": "3"})
    assert not is_main_rank({"RANK": "0", "LOCAL_RANK": "1"})  # torchrun TP: lm-eval also checks LOCAL_RANK


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_rank_other_than_0_computes_but_never_writes(tiny_model_dir: Path, store_url: str, tmp_path: Path) -> None:
    """As under `accelerate launch`: lm-eval returns None on this rank; the command exits 0, prints nothing and
    leaves the store byte for byte as it was (one task stored beforehand, the other computed and dropped)."""
    done = runner.invoke(app, ["eval", "--model", str(tiny_model_dir), "--tasks", "arith_mc", "--limit", "8"])
    assert done.exit_code == 0, done.output
    db = Path(store_url.removeprefix("sqlite:///"))
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    env = {**os.environ, "RANK": "0", "LOCAL_RANK": "1", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(_free_port())}
    follower = subprocess.run([sys.executable, "-m", "harness", "eval", "--model", str(tiny_model_dir), "--suite",
                               "smoke", "--limit", "8", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
    assert follower.returncode == 0, follower.stderr[-2000:]
    assert follower.stdout == ""
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_eval_help_imports_no_ray() -> None:
    code = ("import sys; from typer.testing import CliRunner; from harness.cli import app; "
            "r = CliRunner().invoke(app, ['eval', '--help']); "
            "import json; print(json.dumps([r.exit_code, '--executor' in r.output, 'ray' in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0, True, False]


def test_a_unit_reserves_the_gpus_its_parallelism_needs(tiny_model_dir: Path) -> None:
    from harness.eval.executors import ClusterOptions
    from harness.eval.ray_executor import gpus_for

    vllm = EvalConfig(model=str(tiny_model_dir), backend="vllm", device="cuda", tensor_parallel_size=2,
                      data_parallel_size=2)
    assert gpus_for(vllm, ClusterOptions()) == 4.0
    assert gpus_for(vllm, ClusterOptions(gpus_per_unit=8)) == 8.0
    assert gpus_for(EvalConfig(model=str(tiny_model_dir)), ClusterOptions()) == 0.0
    assert gpus_for(EvalConfig(model=str(tiny_model_dir), device="cuda:1"), ClusterOptions()) == 1.0
