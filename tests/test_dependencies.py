"""Every library the code imports is declared in pyproject.toml, not brought in by accident
as another package's dependency (which a new release of that package may drop)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWN = {"bot", "handlers", "schedules", "storage"}


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {
        _normalised(re.split(r"[\[<>=!~;, ]", spec, maxsplit=1)[0])
        for spec in project["dependencies"]
    }


def imported_libraries() -> dict[str, str]:
    """Top-level module → the first file that imports it."""
    found: dict[str, str] = {}
    for package in sorted(OWN):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top not in OWN and top not in sys.stdlib_module_names:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_library_is_declared() -> None:
    distributions = packages_distributions()
    wanted = declared()
    undeclared = [
        f"{module} (imported in {where}; from {distributions.get(module)})"
        for module, where in imported_libraries().items()
        if not {_normalised(d) for d in distributions.get(module, [module])} & wanted
    ]
    assert undeclared == []
