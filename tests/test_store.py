"""The results store: migrations, schema-version refusal, read-only opening, round trips (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from harness.errors import HarnessError, StoreSchemaTooNew
from harness.records import Battle, ModelRecord, SampleRecord, Score, TaskResult
from harness.store import SCHEMA_VERSION, open_store, resolve_store_url
from harness.store.battles import read_battles, write_battles
from harness.store.runs import (
    count_rows,
    create_run,
    find_task_results,
    finish_run,
    get_run,
    list_runs,
    read_task_result,
    upsert_model,
    write_task_result,
)
from harness.store.schema import metadata, migrations_table
from tests.conftest import BACKENDS, wiped_postgres_url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, store_url: str) -> str:
    """The per-test SQLite store, and a wiped PostgreSQL database when HARNESS_TEST_PG_URL is set."""
    if request.param == "sqlite":
        return store_url
    return wiped_postgres_url()


def _result(task: str = "arith_mc", key: str = "k1") -> TaskResult:
    scores = [Score(task=task, metric="acc", filter="none", value=0.75, stderr=0.1, n=4, higher_is_better=True)]
    samples = [
        SampleRecord(task=task, doc_id=i, filter="none", doc_hash=f"d{i}", prompt_hash=f"p{i}", target_hash=f"t{i}", prompt=f"prompt {i}", target="3", prediction="3" if i % 4 else "2",
                     metrics={"acc": float(i % 4 != 0)})
        for i in range(4)
    ]
    return TaskResult(task=task, task_hash="sha256:task", eval_key=key, num_fewshot=0, scores=scores, samples=samples)


def test_migrations_run_once_and_are_recorded(url: str) -> None:
    store = open_store(url)
    open_store(url)  # a second open applies nothing twice
    with store.engine.connect() as conn:
        names = list(conn.execute(sa.select(migrations_table.c.name)).scalars())
    assert len(names) == SCHEMA_VERSION == len(set(names))
    assert count_rows(store)["runs"] == 0


def test_store_newer_than_code_is_refused(url: str) -> None:
    store = open_store(url)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(migrations_table).values(name="999_from_the_future"))
    with pytest.raises(StoreSchemaTooNew, match="newer than this harness"):
        open_store(url)


def test_eval_records_round_trip(url: str) -> None:
    store = open_store(url)
    model_id = upsert_model(store, ModelRecord(name="tiny", source="/m", fingerprint="sha256:abc", n_params=10))
    assert upsert_model(store, ModelRecord(name="tiny", source="/m", fingerprint="sha256:abc", recipe="alpaca")) == model_id
    run_id = create_run(store, model_id, {"suite": "smoke", "tasks": [{"task": "arith_mc"}], "config": {"a": 1},
                                          "config_hash": "h", "backend": "hf", "versions": {"torch": "x"}})
    write_task_result(store, run_id, _result())
    finish_run(store, run_id, "finished")

    assert find_task_results(store, ["k1", "k2"]) == {"k1": run_id}
    back = read_task_result(store, run_id, "arith_mc")
    assert back.members == ["arith_mc"]
    assert back == TaskResult(**{**_result().__dict__, "members": ["arith_mc"]})
    run = get_run(store, run_id)
    assert run["status"] == "finished" and run["model"] == "tiny" and run["finished_at"] is not None
    assert [r["id"] for r in list_runs(store)] == [run_id]


def test_battles_are_deduplicated_by_key_and_keep_order(url: str) -> None:
    store = open_store(url)
    items = [Battle(model_a="a", model_b="b", winner="model_a", battle_key="1"), Battle(model_a="b", model_b="c", winner="tie", battle_key="2"),
             Battle(model_a="a", model_b="c", winner="model_b", extra={"len_a": 3})]
    assert write_battles(store, items) == 3
    assert write_battles(store, items[:2] + [Battle(model_a="c", model_b="a", winner="model_a", battle_key="2")]) == 0
    assert [(b.model_a, b.winner, b.extra) for b in read_battles(store)] == [
        ("a", "model_a", {}), ("b", "tie", {}), ("a", "model_b", {"len_a": 3})]


def test_readonly_store_cannot_be_written(store_url: str) -> None:
    open_store(store_url)
    ro = open_store(store_url, readonly=True)
    with pytest.raises(sa.exc.OperationalError, match="readonly"):
        upsert_model(ro, ModelRecord(name="x", source="x", fingerprint="sha256:x"))


def test_readonly_store_must_exist(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no store at"):
        open_store(str(tmp_path / "nope.db"), readonly=True)
    assert not (tmp_path / "nope.db").exists()


def test_store_url_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HARNESS_STORE")
    assert resolve_store_url(None).endswith("/results/harness.db")
    assert resolve_store_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"
    assert resolve_store_url("postgresql://u@h/db") == "postgresql://u@h/db"
    monkeypatch.setenv("HARNESS_STORE", "sqlite:///env.db")
    assert resolve_store_url(None) == "sqlite:///env.db"


def test_password_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(HarnessError) as info:
        open_store("postgresql+psycopg2://user:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(info.value)


def _shape(inspector: sa.Inspector, table: str) -> dict[str, object]:
    columns = {c["name"]: (type(c["type"]).__name__, c["nullable"]) for c in inspector.get_columns(table)}
    indexes = {tuple(i["column_names"]) for i in inspector.get_indexes(table)}
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
    return {"columns": columns, "indexes": indexes, "uniques": uniques,
            "pk": tuple(inspector.get_pk_constraint(table)["constrained_columns"])}


def test_migrated_database_has_the_live_schema(url: str, tmp_path: Path) -> None:
    """The frozen migration steps and schema.py describe the same tables (reflected from the database)."""
    migrated = open_store(url).engine
    fresh = sa.create_engine(f"sqlite:///{tmp_path / 'live.db'}") if url.startswith("sqlite") else None
    if fresh is not None:
        metadata.create_all(fresh)
    got = sa.inspect(migrated)
    assert set(metadata.tables) <= set(got.get_table_names())
    for name, table in metadata.tables.items():
        shape = _shape(got, name)
        assert set(shape["columns"]) == {c.name for c in table.columns}, name  # type: ignore[arg-type]
        if fresh is not None:
            assert shape == _shape(sa.inspect(fresh), name), name


def test_a_later_step_adds_a_column_to_an_existing_store(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new column is a new step (add_columns), so a store made before it keeps its rows and gains the column."""
    from harness.store import migrations

    store = open_store(url)
    upsert_model(store, ModelRecord(name="old", source="/m", fingerprint="sha256:old"))
    step = ("999_test_column", lambda conn: migrations.add_columns(conn, "models", sa.Column("note", sa.Text)))
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, step])
    monkeypatch.setattr("harness.store.database.MIGRATIONS", migrations.MIGRATIONS)
    reopened = open_store(url)
    with reopened.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, note FROM models")).all()
        steps = list(conn.execute(sa.select(migrations_table.c.name)).scalars())
    assert [tuple(r) for r in rows] == [("old", None)]
    assert steps[-1] == "999_test_column"
    if not url.startswith("sqlite"):  # leave the shared PostgreSQL database as the other tests expect it
        with reopened.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE models DROP COLUMN note"))
            conn.execute(sa.delete(migrations_table).where(migrations_table.c.name == "999_test_column"))
