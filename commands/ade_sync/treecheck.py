"""The cheap question "did this resource tree change?", asked on the trees' own cadence.

A tree at detail 11 (what we store) is the bulk of an idle cycle's bytes: on the ``large`` preset
about 11.6 MB for the four categories. ``getResources(category, tree=true, detail=2)`` carries every
id, name and the nesting — what users see and pick — for about 0.9 MB. Each probe's canonical digest is
kept (``sync_state`` row ``tree-probe:<category>``); only a category whose probe differs is fetched at
detail 11 and reconciled. Levels compared on ``large`` (four categories): detail 1 ≈ 0.44 MB (ids and
nesting: misses renames), 2 ≈ 0.88 MB, 3 ≈ 2.5 MB (adds ``path``, which the nesting already says),
9 ≈ 7.5 MB (``lastUpdate``, but with event statistics that change with every booking), 11 ≈ 11.6 MB.

What detail 2 cannot see — a change of a code, an e-mail or another free field alone — reaches the mirror
with the nightly pass, which fetches every tree at detail 11 whatever the probes say.
"""

from __future__ import annotations

import hashlib

import msgspec

from schedulesy.ade.client import AdeClient
from schedulesy.ade.models import ResourceNode, ResourceTree

PROBE_DETAIL = 2


async def probe_tree(ade: AdeClient, category: str) -> ResourceTree:
    return await ade.get_resource_tree(category=category, detail=PROBE_DETAIL)


def probe_digest(tree: ResourceTree, category: str, extra: str = "") -> str:
    """A digest of what the probe carries — each node's tag, ``id`` and ``name``, the nesting and the
    order — so that a probe and a full detail-11 answer of the same tree give the same digest (the
    nightly full fetch leaves the next probe nothing to fetch). Whitespace and attribute order do not count.
    ``extra`` is what else shapes the rows (the buildings map's version, for rooms)."""
    hasher = hashlib.sha256()
    encoder = msgspec.msgpack.Encoder()

    def feed(node: ResourceNode, depth: int) -> None:
        hasher.update(encoder.encode((depth, node.tag, node.attributes.get("id", ""),
                                      node.attributes.get("name", ""))))
        for child in node.children:
            feed(child, depth + 1)

    root = tree.category(category)
    if root is not None:
        feed(root, 0)
    hasher.update(extra.encode())
    return f"{PROBE_DETAIL}:{category}:{hasher.hexdigest()}"
