"""``getResources`` answers: the category trees and the flat lists, at detail levels 1 to 13."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from schedulesy.adesim.controls import Quirks
from schedulesy.adesim.model import CATEGORIES, NO_ID, Resource
from schedulesy.adesim.store import Store
from schedulesy.adesim.xml import document, esc, stamp_attr

FLAT_ELEMENTS = {"classroom": ("rooms", "room"), "instructor": ("instructors", "instructor")}


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
            out.append(f' lastUpdate="{stamp_attr(r.last_update, self.quirks)}" '
                       f'creation="{stamp_attr(r.creation, self.quirks)}" lastSlot="{ls}" lastDay="{ld}" '
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
        """``<resources><resource/>``, or ``<rooms><room/>`` etc. when a category is asked (docs/ade.md §2.3)."""
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


def categories_present(store: Store) -> list[str]:
    present = {store.resources[r].category for r in store.children.get(NO_ID, [])}
    return [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))
