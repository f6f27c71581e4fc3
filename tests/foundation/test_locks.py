"""Every advisory lock id is defined once, in ``schedulesy.locks``, and no two locks share one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schedulesy.locks import LockClass, LockId

ROOT = Path(__file__).resolve().parents[2]
CODE = ("schedulesy", "commands", "projections", "queries", "bench", "tests")
ADVISORY_CALL = re.compile(r"pg_(?:try_)?advisory_(?:xact_)?(?:un)?lock\s*\(", re.IGNORECASE)


def test_lock_ids_and_classes_are_distinct() -> None:
    ids, classes = [int(lock) for lock in LockId], [int(lock) for lock in LockClass]
    assert len(set(ids)) == len(ids) and len(set(classes)) == len(classes)
    assert not set(ids) & set(classes), "apart already, but a shared value would make pg_locks ambiguous to read"


def test_lock_values_fit_their_postgres_arguments() -> None:
    assert all(-(2**63) <= lock < 2**63 for lock in LockId)  # pg_advisory_lock(bigint)
    assert all(-(2**31) <= lock < 2**31 for lock in LockClass)  # pg_advisory_lock(integer, integer)


@pytest.mark.parametrize("directory", CODE)
def test_code_that_takes_an_advisory_lock_names_it_from_the_locks_module(directory: str) -> None:
    for path in sorted((ROOT / directory).rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if path.name in ("locks.py", "test_locks.py") or not ADVISORY_CALL.search(source):
            continue
        assert "from schedulesy.locks import" in source, f"{path.relative_to(ROOT)} takes an advisory lock"


def test_the_migrations_take_no_advisory_lock_of_their_own() -> None:
    for path in sorted((ROOT / "sql").glob("*.sql")):
        source = path.read_text(encoding="utf-8")
        assert not ADVISORY_CALL.search(source), f"{path.name}: add its id to schedulesy.locks"
