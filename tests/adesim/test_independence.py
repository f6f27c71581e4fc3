"""The simulator is an independent oracle of the ADE protocol, and production code does not depend on it.

If the simulator imported the client (its errors, models or date formats), a bug there would be
shared by both sides of every test and hidden. Conversely, only the wiring that starts the simulator
(the ``ade-simulator`` command) may import it from production code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = "schedulesy.ade"
SIMULATOR = "schedulesy.adesim"
PRODUCTION = ("schedulesy", "commands", "projections", "queries")
ALLOWED_TO_START_THE_SIMULATOR = frozenset({"schedulesy/cli.py"})


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module a source imports: ``import a.b``, ``from a import b`` (as ``a`` and ``a.b``),
    relative imports resolved against ``module``, and ``importlib.import_module("…")`` literals."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
              and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value)
    return found


def imports(names: set[str], target: str) -> set[str]:
    return {name for name in names if name == target or name.startswith(target + ".")}


def sources(*directories: str) -> Iterator[tuple[str, set[str]]]:
    for directory in directories:
        for path in sorted((ROOT / directory).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            names = imported_modules(source, module_of(path), is_package=path.name == "__init__.py")
            yield path.relative_to(ROOT).as_posix(), names


@pytest.mark.parametrize(("source", "caught"), [
    ("import schedulesy.ade.client", True),
    ("from schedulesy.ade.errors import AdeError", True),
    ("from schedulesy import ade", True),
    ("from .. import ade", True),
    ("from ..ade.models import Event", True),
    ("import importlib\nimportlib.import_module('schedulesy.ade.xml')", True),
    ("def later():\n    from schedulesy.ade import client", True),
    ("from schedulesy.adesim.model import NO_ID", False),
    ("from . import model", False),
    ("import schedulesy.adesim", False),
])
def test_the_import_scan_sees_every_form_of_import(source: str, caught: bool) -> None:
    names = imported_modules(source, "schedulesy.adesim.webapi")
    assert bool(imports(names, CLIENT)) is caught, names


def test_the_simulator_never_imports_the_client() -> None:
    scanned = dict(sources("schedulesy/adesim"))
    assert len(scanned) >= 10
    offenders = {path: sorted(imports(names, CLIENT)) for path, names in scanned.items() if imports(names, CLIENT)}
    assert not offenders


def test_production_code_does_not_import_the_simulator_outside_the_command_that_starts_it() -> None:
    scanned = {path: names for path, names in sources(*PRODUCTION) if not path.startswith("schedulesy/adesim/")}
    assert "schedulesy/ade/client.py" in scanned and "commands/ade_sync/cycle.py" in scanned
    offenders = {path: sorted(imports(names, SIMULATOR)) for path, names in scanned.items()
                 if imports(names, SIMULATOR) and path not in ALLOWED_TO_START_THE_SIMULATOR}
    assert not offenders
    assert imports(scanned["schedulesy/cli.py"], SIMULATOR), "the allowance is stale: drop it"
