"""The house rules of chalicelib, checked on its source: dependencies point one way, the pure
package stays pure, and no module outgrows what one person holds in their head."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chalicelib"
MAX_LINES = 400

# What each layer may import from chalicelib (besides itself):
# app.py -> api -> engine/jobtypes -> stores -> adapters -> core/dkt.
ALLOWED: dict[str, set[str]] = {
    "dkt": set(),
    "core": {"dkt"},
    "adapters": {"core", "dkt"},
    "stores": {"core", "dkt", "adapters"},
    "engine": {"core", "dkt", "adapters"},
    "jobtypes": {"core", "dkt", "adapters", "stores", "engine"},
    "api": {"core", "dkt", "adapters", "stores", "engine", "jobtypes"},
    # The composition root wires the job types into the engine.
    "runtime": {"core", "dkt", "adapters", "stores", "engine", "jobtypes"},
}
# Third-party modules the pure package must never reach.
AWS_LIBRARIES = {"boto3", "botocore", "pynamodb", "chalice", "aws_lambda_powertools"}


def _modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py"))


def _layer(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> set[str]:
    """Top-level modules and chalicelib layers `path` imports (at any depth of the file)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "chalicelib":
                names = [f"chalicelib.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            found.add(f"chalicelib.{parts[1]}" if parts[0] == "chalicelib" else parts[0])
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_dependencies_point_one_way(path: Path) -> None:
    layer = _layer(path)
    if layer == "__init__":
        return
    used = {name.split(".", 1)[1] for name in _imports(path) if name.startswith("chalicelib.")}
    wrong = used - ALLOWED[layer] - {layer}
    assert not wrong, f"{path.relative_to(ROOT)} ({layer}) imports {sorted(wrong)}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "dkt").rglob("*.py")), ids=lambda p: p.name)
def test_the_dkt_package_is_pure(path: Path) -> None:
    assert not _imports(path) & AWS_LIBRARIES, f"{path.name} reaches AWS"


def test_nothing_but_app_imports_the_api() -> None:
    importers = [
        str(path.relative_to(ROOT))
        for path in [
            *_modules(),
            *(ROOT / "localdev").rglob("*.py"),
            *(ROOT / "bench").rglob("*.py"),
        ]
        if not path.is_relative_to(PACKAGE / "api") and "chalicelib.api" in _imports(path)
    ]
    assert importers == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"
