"""The one selection value: how the ``ressources`` column reads, and the hash naming its documents."""

from __future__ import annotations

import pytest

from schedulesy.selection import Selection


def test_a_column_written_by_another_tool_reads_trimmed_without_repeats_in_its_order() -> None:
    selection = Selection.from_column("35, 4 ,,999, 35")
    assert selection.ids == ("35", "4", "999")
    assert selection.column == "35,4,999"
    assert Selection.from_column(None) == Selection.from_column("") == Selection.from_column(" , ") == Selection()


def test_the_canonical_form_puts_numeric_ids_first_numerically() -> None:
    assert Selection.of(["classroom", "23390", "9", "1616"]).canonical().ids == ("9", "1616", "23390", "classroom")


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        # Hashes already naming calendars and feeds in Redis: they must never change.
        ([], "e3b0c44298fc1c149afbf4c8996fb924"),
        (["1616"], "ee09198e46224875cf39928511ef2b85"),
        (["23390", " 1616", "1616", "", "classroom", "32292", "9"], "02c9a46ae1a046c654b92711beffd633"),
    ],
)
def test_the_hash_is_stable(ids: list[str], expected: str) -> None:
    assert Selection.of(ids).hash == expected


def test_order_and_repeats_do_not_change_the_hash() -> None:
    assert Selection.of(["2", "1", "2"]).hash == Selection.from_column("1,2").hash
    assert Selection.of(["2", "1"]) != Selection.of(["1", "2"])
    assert Selection.of(["2", "1"]).canonical() == Selection.of(["1", "2"]).canonical()
