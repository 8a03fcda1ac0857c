"""The layering contract (DESIGN.md): which part of the tree may import which.

Every import of the project's own code is checked, absolute or relative, at module level
or inside a function, and so is every import of a platform's library. A new edge means
changing the table below, in the open, rather than slipping one in.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "schedules", "storage")

_CORE = {"handlers", "handlers.core", "schedules", "storage"}
# Importer → what it may import. `bot` is bot/ outside the three adapters: the settings,
# the composition root, the CLI and the web app that hosts the adapters.
ALLOWED: dict[str, set[str]] = {
    "storage": {"storage"},
    # The plumbing under every feature knows no feature: a feature is one module beside it.
    "handlers.core": {"handlers.core", "storage"},
    "handlers": {"handlers", "handlers.core", "storage"},
    "schedules": {"schedules", "handlers", "handlers.core", "storage"},
    "bot": {"bot", "bot.slack", "bot.teams", "bot.console", *_CORE},
    "bot.slack": {"bot.slack", "bot", *_CORE},
    "bot.teams": {"bot.teams", "bot", *_CORE},
    "bot.console": {"bot.console", "bot", *_CORE},
}
# A platform's library, and the parts that may speak to it.
PLATFORM_LIBRARIES: dict[str, set[str]] = {
    "slack_bolt": {"bot.slack", "bot"},
    "slack_sdk": {"bot.slack", "bot"},
    "microsoft_agents": {"bot.teams", "bot"},
    "aiohttp": {"bot.slack", "bot.teams", "bot"},
}


def part_of(module: str) -> str | None:
    """The part of the tree a module belongs to: `bot.slack.app` is bot.slack's,
    `handlers.core.context` handlers.core's."""
    names = module.split(".")
    if names[0] not in PACKAGES:
        return None
    if names[:2] == ["handlers", "core"]:
        return "handlers.core"
    if names[0] == "bot" and len(names) > 2 and names[1] in ("slack", "teams", "console"):
        return f"bot.{names[1]}"
    return names[0]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(root: Path, path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, relative imports resolved against its package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = module_name(root, path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from handlers import bank` imports handlers.bank: check the module named.
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) in ("import_module",)
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def offences(root: Path) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            importer = part_of(module_name(root, path))
            assert importer is not None
            for line, module in imports_of(root, path):
                imported = part_of(module)
                library = module.split(".")[0]
                where = f"{path.relative_to(root)}:{line}: {importer} imports {module}"
                if (imported is not None and imported not in ALLOWED[importer]) or (
                    library in PLATFORM_LIBRARIES and importer not in PLATFORM_LIBRARIES[library]
                ):
                    found.append(where)
    return found


def test_every_import_keeps_to_the_layering_table() -> None:
    assert offences(ROOT) == []


def test_a_forbidden_import_breaks_the_contract(tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "bot" / "slack").mkdir()
    (tmp_path / "bot" / "slack" / "app.py").write_text("from ..teams import cards\n")
    (tmp_path / "handlers" / "feature.py").write_text(
        "import os\n"
        "from storage import models\n"
        "from bot.settings import Settings\n"
        "from . import vocabulary\n"
        "def later():\n"
        "    import slack_sdk.web\n"
    )
    (tmp_path / "handlers" / "core").mkdir()
    (tmp_path / "handlers" / "core" / "__init__.py").write_text("")
    (tmp_path / "handlers" / "core" / "registry.py").write_text(
        "from handlers.core import context\nfrom handlers import bank\n"
    )
    (tmp_path / "storage" / "models.py").write_text("from ..handlers.core import context\n")
    assert offences(tmp_path) == [
        "bot/slack/app.py:1: bot.slack imports bot.teams.cards",
        "handlers/core/registry.py:2: handlers.core imports handlers.bank",
        "handlers/feature.py:3: handlers imports bot.settings.Settings",
        "handlers/feature.py:6: handlers imports slack_sdk.web",
        "storage/models.py:1: storage imports handlers.core.context",
    ]
