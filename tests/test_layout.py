"""The package layout holds: no import cycles, small modules, pure modules stay pure, and a wheel that works
outside the checkout (its data files included)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "fine_tune", "leaderboard_app")
MAX_LINES = 400
# Pure statistics and records: numpy/scipy at most, never the store, torch or lm-eval.
PURE = ("harness.records", "harness.arena.ratings", "harness.arena.bradley_terry", "harness.arena.style",
        "harness.gate.stats", "harness.gate.paired", "harness.gate.checks", "harness.gate.arena",
        "harness.judge.verdicts", "harness.judge.offline", "harness.fingerprint")
HEAVY = ("sqlalchemy", "torch", "lm_eval", "transformers", "rich", "typer")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Project modules `path` imports anywhere (top level, in functions, under TYPE_CHECKING)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_between_project_modules() -> None:
    modules = _modules()
    graph = {name: _imports(path, name, set(modules)) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_over_the_size_budget() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_load_no_heavy_dependency(module: str) -> None:
    code = f"import json, sys, {module}; print(json.dumps(sorted(set(sys.modules) & {set(HEAVY)!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(out.stdout) == []


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(p.parent.relative_to(ROOT).parts) for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py")}
    assert folders | {"harness.tasks"} == set(config["packages"])
    assert config["package-dir"] == {"harness.tasks": "tasks"}


def _source_copy(tmp_path: Path) -> Path:
    """The checkout's files (tracked and untracked, not ignored) in a fresh folder: no stale build/ leaks in."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    copy = tmp_path / "src"
    for name in listed:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


def test_wheel_installed_outside_the_checkout_runs_an_eval(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Build the wheel, install it with --no-deps into a folder, and run `harness eval --suite smoke` from elsewhere."""
    dist, target, elsewhere = tmp_path / "dist", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(_source_copy(tmp_path))],
                   check=True, capture_output=True)
    wheel = next(dist.glob("harness-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target), "HARNESS_STORE": str(elsewhere / "store.db")}
    where = subprocess.run([sys.executable, "-c", "import harness, fine_tune; print(harness.__file__, fine_tune.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(p).is_relative_to(target) for p in where)
    run = subprocess.run([sys.executable, "-m", "harness", "eval", "--model", str(tiny_model_dir), "--suite", "smoke",
                          "--limit", "4", "--json"], check=False, cwd=elsewhere, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    scores = {s["task"] for s in json.loads(run.stdout)["scores"]}
    assert {"arith_mc", "arith_gen"} <= scores
    code = "from fine_tune.config import load_recipe; print(load_recipe('alpaca').name)"
    recipes = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                             check=True)
    assert recipes.stdout.strip() == "alpaca"
