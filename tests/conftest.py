"""Shared fixtures: a tiny model built once per session, a store per test, a loopback OpenAI server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
os.environ.pop("OPENAI_API_KEY", None)

from tests.openai_server import FakeOpenAI
from tests.ray_fixtures import ray_cluster  # noqa: F401 -- the session's one Ray cluster

# ../shared/data beside the checkout; HARNESS_SHARED_DATA points elsewhere (a git worktree, CI).
# Store tests also run on PostgreSQL when .ci/run (or you) started one and named it here.
PG_URL = os.environ.get("HARNESS_TEST_PG_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
SHARED_DATA = Path(os.environ.get("HARNESS_SHARED_DATA") or Path(__file__).resolve().parent.parent.parent / "shared" / "data")


@pytest.fixture(autouse=True)
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test gets its own SQLite store through HARNESS_STORE, and its own hash cache."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("HARNESS_STORE", url)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    return url


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hidden-64, 2-layer LLaMA with its trained tokenizer, built once (read-only for tests)."""
    from harness.eval.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0, hidden=64, layers=2).path


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    """A real HTTP server on 127.0.0.1; set `.responder` to script it."""
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip when this checkout has none beside it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"no shared data at {SHARED_DATA}")
    return SHARED_DATA


def wiped_postgres_url() -> str:
    """HARNESS_TEST_PG_URL with every harness table dropped: a new store for the test."""
    import sqlalchemy as sa

    from harness.store.schema import metadata

    engine = sa.create_engine(str(PG_URL))
    with engine.begin() as conn:
        metadata.drop_all(conn)
    engine.dispose()
    return str(PG_URL)


@pytest.fixture(params=BACKENDS)
def new_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new (never opened) SQLite file, or a wiped PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'new.db'}"
    return wiped_postgres_url()
