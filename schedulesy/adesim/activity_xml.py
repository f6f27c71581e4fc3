"""``getActivities`` answers: flat or in folders, with requirement trees (15+) and events (17)."""

from __future__ import annotations

from collections.abc import Sequence

from schedulesy.adesim.controls import Quirks
from schedulesy.adesim.model import NO_ID, Activity
from schedulesy.adesim.store import Store
from schedulesy.adesim.xml import EventWriter, document, esc, stamp_attr


class ActivityWriter:
    def __init__(self, store: Store, quirks: Quirks, detail: int) -> None:
        self.store, self.quirks, self.detail = store, quirks, detail
        self.events = EventWriter(store, quirks)

    def attrs(self, a: Activity) -> str:
        d, s, p = self.detail, self.store, self.store.project
        out = [f' id="{a.id}"']
        if d >= 2:
            out.append(f' name="{esc(a.name)}"')
        if d >= 3:
            out.append(f' type="{esc(a.type)}" folderId="{a.folder_id}"')
        if d >= 4:
            out.append(f' url="{esc(a.url)}"')
        if d >= 5:
            out.append(f' size="{a.size}"')
        events = [s.events[e] for e in sorted(s.by_activity.get(a.id, ()))]
        if d >= 6:
            out.append(f' repetition="{len(events)}"')
        if d >= 7:
            minutes = [e.duration * p.slot_minutes for e in events]
            placed = sorted(events, key=lambda e: p.absolute_slot(e.week, e.day, e.slot))
            first = (placed[0].week, placed[0].day, placed[0].slot) if placed else (NO_ID, NO_ID, NO_ID)
            last = (placed[-1].week, placed[-1].day, placed[-1].slot) if placed else (NO_ID, NO_ID, NO_ID)
            duration = minutes[0] if minutes else 0
            out.append(f' duration="{duration}" nbEventsPlaced="{len(events)}" nbEvents="{len(events)}" '
                       f'durationInMinutes="{sum(minutes)}" firstWeek="{first[0]}" firstDay="{first[1]}" '
                       f'firstSlot="{first[2]}" lastWeek="{last[0]}" lastDay="{last[1]}" lastSlot="{last[2]}" '
                       f'creation="{stamp_attr(a.creation, self.quirks)}" '
                       f'lastUpdate="{stamp_attr(a.last_update, self.quirks)}" additionalResources="0"')
        if d >= 8:
            out.append(' email=""')
        if d >= 9:
            out.append(f' color="{a.color}" code="{esc(a.code)}" timezone="" codeX="" codeY="" codeZ="" '
                       f'info="{esc(a.info)}" maxSeats="" seatsLeft="" weight="1"')
        if d >= 10:
            out.append(' isActive="true"')
        if d >= 11:
            out.append(' isNotSameDay="false"')
        if d >= 12:
            out.append(' isGrouped="false"')
        if d >= 13:
            out.append(' isAligned="false" isSuccessiveDays="false"')
        if d >= 14:
            out.append(' owner="admin" ownerId="1"')
        return "".join(out)

    def body(self, a: Activity, indent: str) -> list[str]:
        """Detail 15+: the requirement tree (``and`` / ``or`` nodes); 17: the events."""
        if self.detail < 15:
            return []
        s, i = self.store, indent
        out = [f'{i}<resources activityId="{a.id}">\n']
        groups: dict[int, list[str]] = {}
        for q in a.requirements:
            r = s.resources.get(q.resource_id)
            if r is None:
                continue
            group = "true" if r.is_group else "false"
            line = (f'<and load="1" quantity="{q.quantity}" nodeId="{q.node_id}" id="{r.id}" name="{esc(r.name)}" '
                    f'path="{esc(s.path(r.id))}" category="{r.category}" isGroup="{group}"/>\n')
            if q.node_or_id == NO_ID:
                out.append(f"{i}\t{line}")
            else:
                groups.setdefault(q.node_or_id, [r.category]).append(line)
        for or_id, (category, *lines) in groups.items():
            out.append(f'{i}\t<or isContinuous="false" category="{category}" quantity="1" id="{or_id}">\n')
            out += [f"{i}\t\t{line}" for line in lines]
            out.append(f"{i}\t</or>\n")
        out.append(f"{i}</resources>\n")
        if self.detail >= 17:
            ids = sorted(s.by_activity.get(a.id, ()))
            out.append(f"{i}<events>\n")
            for e in ids:
                text = self.events.event(s.events[e], 8, i + "\t")
                out.append(text.replace("<resources>", "<eventParticipants>").replace(
                    "</resources>", "</eventParticipants>").replace("<resource ", "<eventParticipant "))
            out.append(f"{i}</events>\n")
        return out

    def flat(self, ids: Sequence[int]) -> bytes:
        if not ids:
            return document("<activities/>\n")
        out = ["<activities>\n"]
        for aid in ids:
            self._one(self.store.activities[aid], "\t", out)
        out.append("</activities>\n")
        return document("".join(out))

    def _one(self, a: Activity, indent: str, out: list[str]) -> None:
        body = self.body(a, indent + "\t")
        if body:
            out += [f"{indent}<activity{self.attrs(a)}>\n", *body, f"{indent}</activity>\n"]
        else:
            out.append(f"{indent}<activity{self.attrs(a)}/>\n")

    def tree(self, ids: Sequence[int], folders: dict[int, str]) -> bytes:
        """``<treeActivities><folder name=…><activity/>``, folders in id order."""
        by_folder: dict[int, list[int]] = {}
        for aid in ids:
            by_folder.setdefault(self.store.activities[aid].folder_id, []).append(aid)
        out = ["<treeActivities>\n"]
        for fid in sorted(by_folder):
            out.append(f'\t<folder id="{fid}" name="{esc(folders.get(fid, ""))}">\n')
            for aid in by_folder[fid]:
                self._one(self.store.activities[aid], "\t\t", out)
            out.append("\t</folder>\n")
        out.append("</treeActivities>\n")
        return document("".join(out))
