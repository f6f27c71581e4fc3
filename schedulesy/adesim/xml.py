"""XML answers of the simulated ADE Web API, written by hand for speed and byte stability.

Why not an XML library: ADE's answers have a fixed attribute order per detail level (§2.4, §3.2), tab
indentation and ``&apos;`` escaping; writing strings directly pins all three, keeps the bytes identical
for unchanged data (SCH fingerprints them with MD5) and renders a week of a large project in
milliseconds. Strings reused across many events (dates, hours, booked-resource tails) are cached per
store version.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence

import msgspec

from schedulesy.adesim.store import Store
from schedulesy.adesim.model import CATEGORIES, NO_ID, Activity, PlacedEvent, GridProject, Resource, format_hour

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;",
                          "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})
FLAT_ELEMENTS = {"classroom": ("rooms", "room"), "instructor": ("instructors", "instructor")}


class Quirks(msgspec.Struct, kw_only=True):
    """Switches for behaviours real ADE servers differ on (§7.2); all off = a 2024 server."""

    legacy_attributes: bool = False
    """Omit ``old*``, ``isNoteLock`` and ``isStrongLock`` like 2019 servers."""
    empty_dates: bool = False
    """Empty ``lastUpdate`` and ``creation`` like ADE 2025.1 (EMARG issue #49)."""
    shuffle_events: bool = False
    """A fixed pseudo-random event order instead of ascending ids."""
    content_type_charset: bool = False
    """Say ``charset=UTF-8`` in Content-Type (real servers do not, hence mojibake in clients)."""
    renumber_on_move: bool = False
    """Every admin move gives the event a new id, as ADE sometimes does (EMARG PR #62)."""


def esc(text: str) -> str:
    """Markup characters escaped; other control characters (U+0007 in a note…) stay raw, as real
    ADE writes them, although XML 1.0 forbids them: the client must survive that quirk."""
    return text.translate(_ESCAPES)


def document(body: str) -> bytes:
    return (DECLARATION + body).encode("utf-8")


def error(name: str, trace: str) -> bytes:
    return document(f'<error name="{esc(name)}" trace="{esc(trace)}"/>\n')


def element(tag: str, attrs: Sequence[tuple[str, object]]) -> bytes:
    return document(f"<{tag}{''.join(f' {k}={_q(v)}' for k, v in attrs)}/>\n")


def _q(value: object) -> str:
    if isinstance(value, bool):
        return '"true"' if value else '"false"'
    return f'"{esc(str(value))}"'


def _stamp(value: str, quirks: Quirks) -> str:
    return "" if quirks.empty_dates else value


# -- events ----------------------------------------------------------------------------------------

class EventWriter:
    """Renders events of one store version; build one per request (cheap) or keep while version holds."""

    def __init__(self, store: Store, quirks: Quirks) -> None:
        self.store, self.quirks = store, quirks
        p: GridProject = store.project
        self.project = p
        self.hours = [format_hour(p.minutes_of(s)) for s in range(p.slots_per_day + 1)]
        self.dates: dict[int, str] = {}
        self.tails: dict[int, str] = {}

    def date(self, offset: int) -> str:
        text = self.dates.get(offset)
        if text is None:
            d = self.project.week0 + dt.timedelta(days=offset)
            text = self.dates[offset] = f"{d.day:02d}/{d.month:02d}/{d.year:04d}"
        return text

    def tail(self, rid: int) -> str:
        text = self.tails.get(rid)
        if text is None:
            r = self.store.resources[rid]
            text = self.tails[rid] = f'category="{r.category}" name="{esc(r.name)}" id="{rid}"/>\n'
        return text

    def event(self, e: PlacedEvent, detail: int, indent: str = "\t") -> str:
        q, p = self.quirks, self.project
        out = [f'{indent}<event id="{e.id}" activityId="{e.activity_id}" session="{e.session}" '
               f'repetition="{e.repetition}"']
        if detail >= 2:
            out.append(f' name="{esc(e.name)}"')
        if detail >= 3:
            absolute = (e.week * p.days_per_week + e.day) * p.slots_per_day + e.slot
            out.append(f' endHour="{self.hours[e.slot + e.duration]}" startHour="{self.hours[e.slot]}" '
                       f'date="{self.date(e.week * 7 + e.day)}" absoluteSlot="{absolute}" slot="{e.slot}" '
                       f'day="{e.day}" week="{e.week}"')
        if detail >= 4:
            out.append(f' additionalResources="0" duration="{e.duration}"')
        if detail >= 5:
            out.append(f' info="{esc(e.info)}" note="{esc(e.note)}" color="{e.color}"')
        if detail >= 6:
            out.append(' isLockPosition="false"')
            if not q.legacy_attributes:
                out.append(f' oldDuration="{e.old_duration}" oldSlot="{e.old_slot}" oldDay="{e.old_day}" '
                           f'oldWeek="{e.old_week}"')
        if detail >= 7:
            out.append(f' lastUpdate="{_stamp(e.last_update, q)}" creation="{_stamp(e.creation, q)}" '
                       'isLockResources="false" isSoftKeepResources="false"')
            if not q.legacy_attributes:
                out.append(' isNoteLock="false" isStrongLock="false"')
        if detail < 8:
            out.append("/>\n")
            return "".join(out)
        out.append(f">\n{indent}\t<resources>\n")
        for b in e.resources:
            out.append(f'{indent}\t\t<resource fromWorkflow="{"true" if b.from_workflow else "false"}" '
                       f'nodeId="{b.node_id}" nodeOrId="{b.node_or_id}" quantity="{b.quantity}" ')
            out.append(self.tail(b.resource_id))
        out.append(f"{indent}\t</resources>\n{indent}\t<additional/>\n{indent}</event>\n")
        return "".join(out)

    def events(self, ids: Sequence[int], detail: int) -> bytes:
        if not ids:
            return document("<events/>\n")
        if self.quirks.shuffle_events:
            ids = list(ids)
            random.Random(len(ids)).shuffle(ids)
        events = self.store.events
        return document("<events>\n" + "".join([self.event(events[i], detail) for i in ids]) + "</events>\n")


# -- resources -------------------------------------------------------------------------------------

class ResourceWriter:
    def __init__(self, store: Store, quirks: Quirks, detail: int) -> None:
        self.store, self.quirks, self.detail = store, quirks, detail

    def attrs(self, r: Resource) -> str:
        d, s = self.detail, self.store
        out = [f' id="{r.id}"']
        if d >= 2:
            out.append(f' name="{esc(r.name)}"')
        if d >= 3:
            out.append(f' path="{esc(s.path(r.id))}" category="{r.category}"')
        if d >= 4:
            out.append(f' isGroup="{"true" if r.is_group else "false"}"')
        if d >= 5:
            out.append(f' type="{esc(r.type)}"')
        if d >= 6:
            out.append(f' email="{esc(r.email)}"')
        if d >= 7:
            out.append(f' url="{esc(r.url)}"')
        if d >= 8:
            out.append(f' consumer="false" size="{r.size}"')
        if d >= 9:
            st = s.stats(r.id)
            (fw, fd, fs), (lw, ld, ls) = st.first, st.last
            out.append(f' lastUpdate="{_stamp(r.last_update, self.quirks)}" '
                       f'creation="{_stamp(r.creation, self.quirks)}" lastSlot="{ls}" lastDay="{ld}" '
                       f'lastWeek="{lw}" firstSlot="{fs}" firstDay="{fd}" firstWeek="{fw}" '
                       f'durationInMinutes="{st.minutes}" nbEventsPlaced="{st.events}" availableQuantity="-1" '
                       f'number="1"')
        if d >= 10:
            father = s.resources.get(r.parent_id)
            out.append(f' fatherName="{esc(father.name) if father else ""}" fatherId="{r.parent_id}"')
        if d >= 11:
            out.append(f' info="{esc(r.info)}" codeZ="{esc(r.code_z)}" codeY="{esc(r.code_y)}" '
                       f'codeX="{esc(r.code_x)}" manager="" jobCategory="{esc(r.job_category)}" timezone="" '
                       f'fax="" telephone="{esc(r.telephone)}" country="{esc(r.country)}" city="{esc(r.city)}" '
                       f'state="" zipCode="{esc(r.zip_code)}" address2="{esc(r.address2)}" '
                       f'address1="{esc(r.address1)}" code="{esc(r.code)}" color="{esc(r.color)}"')
        if d >= 12:
            out.append(' levelAccess="2" owner="admin"')
        return "".join(out)

    def extra(self, r: Resource, indent: str) -> list[str]:
        """Detail 13 children: members, memberships, constraints and rights."""
        if self.detail < 13:
            return []
        s, i = self.store, indent
        members = [s.resources[m] for m in s.descendants(r.id) if not s.resources[m].is_group]
        out = [f"{i}<allMembers>\n" if members else f"{i}<allMembers/>\n"]
        out += [f'{i}\t<member id="{m.id}" category="{m.category}" name="{esc(m.name)}"/>\n' for m in members]
        if members:
            out.append(f"{i}</allMembers>\n")
        groups = [s.resources[a] for a in s.ancestors(r.id)]
        out.append(f"{i}<memberships>\n" if groups else f"{i}<memberships/>\n")
        out += [f'{i}\t<membership id="{g.id}" category="{g.category}" name="{esc(g.name)}"/>\n' for g in groups]
        if groups:
            out.append(f"{i}</memberships>\n")
        out.append(f'{i}<constraints quality="-1" distribution="-1">\n{i}\t<costs/>\n{i}\t<caracteristics/>\n'
                   f'{i}\t<counters isUseCounter="false"/>\n{i}\t<setupTimes/>\n{i}\t<sites/>\n'
                   f'{i}\t<countersMoving isUseCounterMoving="false"/>\n{i}</constraints>\n'
                   f'{i}<rights othersRights="" groupRights="" userRights="" group="" user="" profileName="" '
                   f'profileId="-1"/>\n')
        return out

    def tree(self, categories: Iterable[str], visible: set[int] | None) -> bytes:
        """``<tree><category>`` with nested ``<branch>``/``<leaf>``; ``visible=None`` shows all."""
        s = self.store
        out = ["<tree>\n"]
        for category in categories:
            roots = [r for r in s.roots(category) if visible is None or r in visible]
            if not roots:
                out.append(f'\t<category category="{category}"/>\n')
                continue
            out.append(f'\t<category category="{category}">\n')
            for root in roots:
                self._node(root, 2, visible, out)
            out.append("\t</category>\n")
        out.append("</tree>\n")
        return document("".join(out))

    def _node(self, rid: int, depth: int, visible: set[int] | None, out: list[str]) -> None:
        s, indent = self.store, "\t" * depth
        r = s.resources[rid]
        tag = "branch" if r.is_group else "leaf"
        kids = [c for c in s.children.get(rid, []) if visible is None or c in visible]
        extra = self.extra(r, indent + "\t")
        if not kids and not extra:
            out.append(f"{indent}<{tag}{self.attrs(r)}/>\n")
            return
        out.append(f"{indent}<{tag}{self.attrs(r)}>\n")
        out.extend(extra)
        for kid in kids:
            self._node(kid, depth + 1, visible, out)
        out.append(f"{indent}</{tag}>\n")

    def flat(self, ids: Sequence[int], category: str | None) -> bytes:
        """``<resources><resource/>``, or ``<rooms><room/>`` etc. when a category is asked (§2.3)."""
        container, tag = ("resources", "resource") if category is None else \
            FLAT_ELEMENTS.get(category, (f"{category}s", category))
        if not ids:
            return document(f"<{container}/>\n")
        out = [f"<{container}>\n"]
        for rid in ids:
            r = self.store.resources[rid]
            extra = self.extra(r, "\t\t")
            if extra:
                out += [f"\t<{tag}{self.attrs(r)}>\n", *extra, f"\t</{tag}>\n"]
            else:
                out.append(f"\t<{tag}{self.attrs(r)}/>\n")
        out.append(f"</{container}>\n")
        return document("".join(out))


def resource_order(store: Store, categories: Iterable[str]) -> list[int]:
    """Every resource of the categories, depth-first in child order (the order a tree shows)."""
    out: list[int] = []
    for category in categories:
        for root in store.roots(category):
            out.append(root)
            out.extend(store.descendants(root))
    return out


# -- activities ------------------------------------------------------------------------------------

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
                       f'creation="{_stamp(a.creation, self.quirks)}" '
                       f'lastUpdate="{_stamp(a.last_update, self.quirks)}" additionalResources="0"')
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


def categories_present(store: Store) -> list[str]:
    present = {store.resources[r].category for r in store.children.get(NO_ID, [])}
    return [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))
