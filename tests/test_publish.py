"""`harness publish`: the snapshot holds the chosen rows and no secrets or absolute paths, opens read-only,
and the folder's own code runs the app (AppTest here; `streamlit run` + Chromium in test_browser.py)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import HarnessError
from harness.publish.code import app_closure, requirements
from harness.publish.imports import import_published
from harness.publish.snapshot import leaks, publish, scrub
from harness.records import ModelRecord
from harness.store import open_store
from harness.store.runs import create_run, finish_run, upsert_model
from tests import published_files
from tests.test_leaderboard import fill

runner = CliRunner()
SECRET_PATH = "/home/alice/private/ckpt"


def _store_with_secrets(url: str, tmp_path: Path) -> None:
    """The leaderboard test store, a model and a failed run full of absolute paths and credentials, and a
    published table."""
    fill(url)
    store = open_store(url)
    model_id = upsert_model(store, ModelRecord(
        name="leaky", source=f"{SECRET_PATH}/leaky", fingerprint="sha256:leaky", kind="full",
        card={"data": "~/datasets/alpaca_data.json", "output_dir": f"{SECRET_PATH}/out"}))
    run_id = create_run(store, model_id, {
        "suite": "smoke", "tasks": [], "config_hash": "h", "backend": "local-completions", "versions": {},
        "config": {"model": f"{SECRET_PATH}/leaky", "base_url": "https://bob:sk-live-123@api.example.com/v1",
                   "model_args": f"pretrained={SECRET_PATH}/leaky,dtype=float32"}})
    finish_run(store, run_id, "failed", f'Traceback\n  File "{SECRET_PATH}/x.py", line 3\nboom ?api_key=sk-q-9')
    import_published(published_files.lmsys_csv(tmp_path), store_url=url)


def test_scrub_cuts_absolute_paths_and_masks_credentials() -> None:
    assert scrub("/home/alice/ckpt/alpaca") == "alpaca"
    assert scrub({"m": ["pretrained=/a/b/c,dtype=x", "~/data/x.json"]}) == {"m": ["pretrained=c,dtype=x", "x.json"]}
    assert scrub("https://u:pw@host/v1/chat") == "https://u:***@host/v1/chat"
    for kept in ("results/demo/alpaca", "https://lmsys.org/blog/2023-05-03-arena/", "What is 1/2 + 3/4?",
                 "sha256:ab12", "and/or"):
        assert scrub(kept) == kept and leaks(kept) == []
    assert leaks("see /etc/hosts") == ["/etc/"] and leaks(scrub("see /etc/hosts")) == []


def test_publish_writes_a_read_only_snapshot_without_secrets_or_absolute_paths(store_url: str,
                                                                              tmp_path: Path) -> None:
    _store_with_secrets(store_url, tmp_path)
    out = tmp_path / "site"
    outcome = publish(out, store_url)
    assert {"app.py", "requirements.txt", "README.md", "leaderboard.db", "leaderboard_app/app.py",
            "harness/store/views.py", ".streamlit/config.toml"} <= set(outcome.files)
    assert outcome.rows["models"] == 5 and outcome.rows["published_results"] == 8 and "leases" not in outcome.rows
    snapshot = out / "leaderboard.db"
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o444 and not (out / "leaderboard.db-wal").exists()
    everything = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    for secret in (b"/home/alice", b"sk-live-123", b"sk-q-9", b"~/datasets", str(tmp_path).encode()):
        assert secret not in everything
    with sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT source FROM models WHERE name = 'leaky'").fetchone() == ("leaky",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert conn.execute("SELECT count(*) FROM leases").fetchone() == (0,)
    conn.close()
    reopened = open_store(f"sqlite:///{snapshot}", readonly=True)
    assert reopened.readonly


def test_publish_chosen_models_keeps_only_their_rows(store_url: str, tmp_path: Path) -> None:
    fill(store_url)
    outcome = publish(tmp_path / "two", store_url, ["alpaca-full", "vicuna-lora"], with_published=False)
    assert outcome.models == ["alpaca-full", "vicuna-lora"]
    assert {k: outcome.rows[k] for k in ("models", "runs", "battles", "judgments", "ratings")} == {
        "models": 2, "runs": 2, "battles": 8, "judgments": 2, "ratings": 4}
    assert "published_results" not in outcome.rows


def test_publish_refuses_unknown_models_and_a_used_folder(store_url: str, tmp_path: Path) -> None:
    fill(store_url)
    with pytest.raises(HarnessError, match="no model named nobody"):
        publish(tmp_path / "new", store_url, ["nobody"])
    assert not (tmp_path / "new").exists()
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    with pytest.raises(HarnessError, match="is not empty"):
        publish(used, store_url)
    publish(used, store_url, force=True)
    again = publish(used, store_url, force=True)  # a previous publish is replaced; other files stay
    assert (used / "notes.txt").read_text() == "mine" and "leaderboard.db" in again.files


def test_requirements_cover_every_third_party_import_of_the_copied_code() -> None:
    modules, third = app_closure()
    assert "leaderboard_app.published_view" in modules and "harness.store.published" in modules
    assert not any(name.startswith(("harness.cli", "harness.eval")) for name in modules)
    # of the judge, only the pure counting the pages show (MT-bench grades, arena-hard games)
    assert {name for name in modules if name.startswith("harness.judge.")} <= {"harness.judge.grades",
                                                                               "harness.judge.arena_hard"}
    reqs = {line.split("==")[0].lower() for line in requirements(third)}
    # orjson, zstandard: the views read battle blocks (`harness.store.battle_blocks`; version 2 columns are zstd);
    # threadpoolctl: BT fits on one BLAS thread
    assert {"streamlit", "pandas", "numpy", "scipy", "sqlalchemy", "pydantic", "altair", "orjson", "zstandard",
            "threadpoolctl"} == reqs
    assert third == {"streamlit", "pandas", "numpy", "scipy", "sqlalchemy", "pydantic", "altair", "orjson", "zstandard",
                     "threadpoolctl"}


def test_published_folder_imports_its_own_copy_without_heavy_packages(store_url: str, tmp_path: Path) -> None:
    fill(store_url)
    out = Path(publish(tmp_path / "site", store_url).out)
    code = ("import sys; sys.path.insert(0, '.'); import harness, leaderboard_app.published_view, "
            "leaderboard_app.compare; print(harness.__file__); "
            "print(sorted(set(sys.modules) & {'torch', 'transformers', 'lm_eval', 'openai', 'typer'}))")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HARNESS_STORE")}
    done = subprocess.run([sys.executable, "-c", code], cwd=out, env=env, capture_output=True, text=True, check=True)
    where, heavy = done.stdout.splitlines()
    assert Path(where).resolve().is_relative_to(out.resolve()) and heavy == "[]"


def test_published_app_serves_its_snapshot(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _store_with_secrets(store_url, tmp_path)
    out = Path(publish(tmp_path / "site", store_url).out)
    monkeypatch.delenv("HARNESS_STORE")  # as deployed: the app finds leaderboard.db beside itself
    at = AppTest.from_file(str(out / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    df = at.dataframe[0].value
    assert {"alpaca-full", "leaky", "Vicuna-13B", "GPT-4"} <= set(df["model"])
    assert any("leaderboard.db" in c.value for c in at.caption)


def test_cli_publish_json(store_url: str, tmp_path: Path) -> None:
    fill(store_url)
    done = runner.invoke(app, ["publish", "--out", str(tmp_path / "site"), "--models", "tiny-base", "--json"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["models"] == ["tiny-base"] and doc["rows"]["models"] == 1 and "app.py" in doc["files"]
    failed = runner.invoke(app, ["publish", "--out", str(tmp_path / "site")])
    assert failed.exit_code == 2 and "is not empty" in failed.output
