"""The sizes of university the generator can build: ``tiny`` for tests, ``demo``, ``large`` for benchmarks."""

from __future__ import annotations

from typing import Final

import msgspec


class Preset(msgspec.Struct, frozen=True, kw_only=True):
    """Knobs of the generator. Counts are targets; the result lands near them."""

    trainee_nodes: int
    """Trainee resources (branches and leaves) to create."""
    instructors: int
    rooms: int
    """Room leaves; sites, buildings and floors come on top."""
    sites: int
    components: int
    td_groups: tuple[int, int]
    """TD groups per year of study (the first year gets the upper bound)."""
    tp_per_td: tuple[int, int]
    """Half groups per TD group: lab (TP) groups, or groups of a weekly workshop where there are no labs."""
    teach_around_today: bool = False
    """Teach through the four weeks from today even in a break (for tests that read "this week")."""


PRESETS: Final[dict[str, Preset]] = {
    "tiny": Preset(trainee_nodes=24, instructors=14, rooms=8, sites=1, components=1, td_groups=(2, 2),
                   tp_per_td=(2, 2), teach_around_today=True),
    "demo": Preset(trainee_nodes=600, instructors=330, rooms=190, sites=2, components=6, td_groups=(3, 7),
                   tp_per_td=(1, 3)),
    "large": Preset(trainee_nodes=6000, instructors=5000, rooms=2225, sites=6, components=36, td_groups=(3, 7),
                    tp_per_td=(2, 4)),
}
