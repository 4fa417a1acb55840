"""The code a published leaderboard folder carries: the Streamlit app and exactly the harness modules it
imports (found by walking their imports), an entry point, a pinned requirements file and deploy metadata.

Nothing written here holds an absolute path: the entry point finds the snapshot beside itself at run time.
"""

from __future__ import annotations

import ast
import importlib.metadata
import shutil
import sys
from pathlib import Path

import harness

PROJECT = ("harness", "leaderboard_app")
ENTRY = "app.py"
SNAPSHOT = "leaderboard.db"
_ENTRY_TEXT = '''"""A published harness leaderboard: `streamlit run app.py` (Streamlit Community Cloud, a Hugging Face Space).

Serves the read-only snapshot `leaderboard.db` beside this file (written by `harness publish`).
"""

import os
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("HARNESS_STORE", f"sqlite:///{HERE / 'leaderboard.db'}")
runpy.run_path(str(HERE / "leaderboard_app" / "app.py"), run_name="__main__")
'''
_CONFIG_TEXT = """[server]
headless = true

[browser]
gatherUsageStats = false
"""


def _roots() -> dict[str, Path]:
    """Top-level project package -> its folder in this installation (checkout or wheel)."""
    import leaderboard_app

    return {"harness": Path(harness.__file__).parent, "leaderboard_app": Path(leaderboard_app.__file__).parent}


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in _roots().items():
        for path in sorted(folder.rglob("*.py")):
            parts = (package, *path.relative_to(folder).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """Every module name `path` imports (top level, in functions, relative ones resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out.update([base, *(f"{base}.{alias.name}" for alias in node.names)])
    return out


def app_closure() -> tuple[dict[str, Path], set[str]]:
    """The project modules the leaderboard app needs (its own, then what they import, with their packages)
    and the third-party top-level modules those import."""
    modules = _modules()
    todo = [name for name in modules if name.startswith("leaderboard_app")]
    needed: dict[str, Path] = {}
    third: set[str] = set()
    while todo:
        name = todo.pop()
        if name in needed or name not in modules:
            continue
        needed[name] = modules[name]
        parts = name.split(".")
        todo += [".".join(parts[:k]) for k in range(1, len(parts))]
        for target in _imports(name, modules[name]):
            top = target.split(".")[0]
            if top not in PROJECT:
                third.add(top)
                continue
            while target and target not in modules:
                target = target.rpartition(".")[0]
            todo.append(target)
    return needed, {t for t in third if t and t not in sys.stdlib_module_names}


def requirements(third: set[str]) -> list[str]:
    """`dist==version` for each distribution providing one of the `third` modules, sorted."""
    providers = importlib.metadata.packages_distributions()
    dists = {dist for module in third for dist in providers.get(module, [])}
    return sorted(f"{dist}=={importlib.metadata.version(dist)}" for dist in dists)


def write_code(out: Path) -> list[str]:
    """Copy the app and its modules into `out`, write the entry point, requirements and metadata; returns
    the requirements."""
    needed, third = app_closure()
    roots = _roots()
    for name, path in needed.items():
        top = name.split(".")[0]
        target = out / top / path.relative_to(roots[top])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    reqs = requirements(third)
    (out / ENTRY).write_text(_ENTRY_TEXT, encoding="utf-8")
    (out / "requirements.txt").write_text("\n".join(reqs) + "\n", encoding="utf-8")
    (out / ".streamlit").mkdir(exist_ok=True)
    (out / ".streamlit" / "config.toml").write_text(_CONFIG_TEXT, encoding="utf-8")
    return reqs


def space_readme(title: str, streamlit_version: str) -> str:
    """README.md with the front matter a Hugging Face Space reads (sdk, version, entry point)."""
    return (f"---\ntitle: {title}\nsdk: streamlit\nsdk_version: {streamlit_version}\napp_file: {ENTRY}\n"
            f"pinned: false\n---\n\n# {title}\n\nA read-only harness leaderboard (`{SNAPSHOT}`, written by "
            "`harness publish`). Run it with `pip install -r requirements.txt && streamlit run app.py`.\n")
