"""``schedulesy sync``: one cycle now, with a progress bar, and its report as a summary."""

from __future__ import annotations

from commands.ade_sync.cycle import run_cycle
from commands.ade_sync.report import SyncReport
from schedulesy.progress import ProgressBar
from schedulesy.services import open_services
from schedulesy.settings import Settings


def format_report(report: SyncReport) -> str:
    lines = [f"ADE sync {report.status} ({report.mode}) in {report.duration_seconds:.1f} s: "
             f"{report.requests} ADE requests, {report.ade_bytes / 1e6:.2f} MB"]
    for c in report.categories:
        lines.append(f"  tree {c.category:<11} {c.status:<9} {c.nodes:>6} nodes  +{c.created} ~{c.updated} -{c.deleted}"
                     + (f"  ({c.error})" if c.error else ""))
    if report.events:
        e = report.events
        lines.append(f"  events ({e.mode}, {e.windows} windows): {e.probed} seen, +{e.new} ~{e.changed} -{e.deleted},"
                     f" {e.details_fetched} fetched in detail" + (f"  ({e.error})" if e.error else ""))
        if e.audited:
            lines.append(f"  audit: {e.audited} timetables checked, {e.audit_mismatches} differ")
    lines.append("  requests: " + ", ".join(f"{k} {v}" for k, v in sorted(report.ade_requests.items())))
    lines.extend(f"  warning: {w}" for w in report.warnings)
    return "\n".join(lines)


async def run_sync_command(settings: Settings, force: bool, full: bool) -> int:
    """``schedulesy sync``: one cycle now. Exit 0 when it went well, 1 when a step failed,
    75 (EX_TEMPFAIL) when another runner holds the lock."""
    bar = ProgressBar()
    try:
        async with open_services(settings, pool_size=4) as services:
            report = await run_cycle(services, force=force, full=full, progress=bar)
    finally:
        bar.finish()
    print(format_report(report))
    return {"ok": 0, "skipped": 75}.get(report.status, 1)
