"""One local Ray cluster for the whole test session (each `ray.init` costs 8 to 11 s here).

Token authentication is off (Ray 2.60 otherwise writes ~/.ray/auth_token), Ray's files go to a temporary
folder, and the cluster is shut down when the session ends. Workers get their own hash cache, so nothing is
written under the home directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`ray.init(num_cpus=2)` once; tests submit to it through the Ray executor (which reuses it)."""
    ray = pytest.importorskip("ray")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    temp_dir = tmp_path_factory.mktemp("ray")
    cache = tmp_path_factory.mktemp("ray-cache")
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(temp_dir), log_to_driver=False,
             runtime_env={"env_vars": {"HARNESS_CACHE": str(cache)}})
    try:
        yield
    finally:
        ray.shutdown()
