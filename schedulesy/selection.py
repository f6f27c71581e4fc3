"""A selection: the ADE resources a user picked, ``w_edtperso.ressources`` (docs/compatibility.md §4.4).

The one value every reader and writer of that column goes through. The column is shared with
ADE's ENT and written by other tools too (``'4, 35 ,,999'``), so items are trimmed, empty items
dropped and repeated ids kept once. The order is kept: the commands answer in the order the user
picked (docs/compatibility.md §11.22). Order and repeats never make another selection, though:
:meth:`Selection.canonical` sorts the ids, and :attr:`Selection.hash`, computed from that form,
names the selection's calendar and feed in Redis, shared by every user who made it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import msgspec

COLUMN_LENGTH = 300
"""``w_edtperso.ressources`` is ``varchar(300)``."""


def _canonical_order(ext_id: str) -> tuple[bool, int, str]:
    """Numeric ids first and numerically, then the others as text."""
    return (not ext_id.isdigit(), int(ext_id) if ext_id.isdigit() else 0, ext_id)


class Selection(msgspec.Struct, frozen=True, order=True):
    """Distinct, trimmed, non-empty ext_ids. Build it with :meth:`of` or :meth:`from_column`."""

    ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, ext_ids: Iterable[str]) -> Selection:
        """The ids trimmed, empty ones dropped and repeats kept once, in the order given."""
        return cls(tuple(dict.fromkeys(item.strip() for item in ext_ids if item and item.strip())))

    @classmethod
    def from_column(cls, text: str | None) -> Selection:
        """A ``ressources`` value as any tool wrote it; NULL is the empty selection."""
        return cls.of((text or "").split(","))

    def canonical(self) -> Selection:
        """The same selection in canonical order: equal for every order of the same ids."""
        return Selection(tuple(sorted(self.ids, key=_canonical_order)))

    @property
    def column(self) -> str:
        """The legacy text: the ids joined by single commas, no spaces."""
        return ",".join(self.ids)

    @property
    def hash(self) -> str:
        """A stable name for the selection, independent of order and repeats (its Redis documents' id)."""
        return hashlib.sha256(self.canonical().column.encode()).hexdigest()[:32]
