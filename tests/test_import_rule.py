"""DESIGN.md's import rule: core imports neither api nor notifications; notifications never imports api."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"core": {"api", "notifications", "litestar", "firebase_admin"}, "notifications": {"api", "litestar"}}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_the_import_rule(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    offenders = {str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & FORBIDDEN[package]) for path in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_firebase_admin_is_imported_in_exactly_one_module() -> None:
    users = [
        str(path.relative_to(ROOT))
        for package in ("core", "api", "notifications")
        for path in (ROOT / package).rglob("*.py")
        if "firebase_admin" in imported_top_levels(path)
    ]
    assert users == ["notifications/fcm_client.py"]


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("import api.app\nfrom notifications.x import y\nfrom . import z\n")
    assert imported_top_levels(sample) == {"api", "notifications"}
