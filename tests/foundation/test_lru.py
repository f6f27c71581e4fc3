"""The one count-bounded in-process map (schedulesy/lru.py)."""

from __future__ import annotations

from schedulesy.lru import Lru


def test_the_least_recently_used_entry_goes_first_and_a_hit_counts_as_a_use() -> None:
    kept: Lru[str, int] = Lru(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # "a" is now the most recently used
    kept.put("c", 3)
    assert "b" not in kept and kept.get("a") == 1 and kept.get("c") == 3 and len(kept) == 2


def test_discard_forgets_an_entry_and_ignores_an_absent_one() -> None:
    kept: Lru[str, int] = Lru(2)
    kept.put("a", 1)
    kept.discard("a")
    kept.discard("never")
    assert kept.get("a") is None and len(kept) == 0
