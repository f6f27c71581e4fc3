"""What ``import-original`` did, counted: users, configurations and keys imported, unchanged or
skipped (with the reason), and each conflict, printed as the command's summary."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec


class Conflict(msgspec.Struct, frozen=True):
    username: str
    what: str
    """``user``, ``configuration`` or ``key``."""
    reason: str
    detail: str = ""


@dataclass
class Tally:
    imported: int = 0
    unchanged: int = 0
    null: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    def line(self, label: str) -> str:
        parts = [f"{self.imported} imported", f"{self.unchanged} unchanged"]
        if label == "configurations":
            parts.append(f"{self.null} null (nothing to import)")
        skipped = sum(self.skipped.values())
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.skipped.items()))
        parts.append(f"{skipped} skipped" + (f" ({reasons})" if reasons else ""))
        return f"{label}: " + ", ".join(parts)


@dataclass
class ImportReport:
    users: Tally = field(default_factory=Tally)
    configurations: Tally = field(default_factory=Tally)
    keys: Tally = field(default_factory=Tally)
    conflicts: list[Conflict] = field(default_factory=list)
    batches_done: int = 0
    batches: int = 0

    def lines(self, *, dry_run: bool = False, conflicts_shown: int = 50) -> list[str]:
        head = "dry run, nothing written" if dry_run else f"{self.batches_done}/{self.batches} batches committed"
        out = [f"import-original: {head}", self.users.line("users"),
               self.configurations.line("configurations"), self.keys.line("keys")]
        for conflict in self.conflicts[:conflicts_shown]:
            detail = f" ({conflict.detail})" if conflict.detail else ""
            out.append(f"  conflict: {conflict.what} of {conflict.username!r}: {conflict.reason}{detail}")
        if len(self.conflicts) > conflicts_shown:
            out.append(f"  ... and {len(self.conflicts) - conflicts_shown} more conflicts")
        return out

    def add(self, batch: ImportReport) -> None:
        """Count a committed batch in."""
        for mine, theirs in ((self.users, batch.users), (self.configurations, batch.configurations),
                             (self.keys, batch.keys)):
            mine.imported += theirs.imported
            mine.unchanged += theirs.unchanged
            mine.null += theirs.null
            for reason, count in theirs.skipped.items():
                mine.skip(reason, count)
        self.conflicts.extend(batch.conflicts)
