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
    subjects_per_semester: tuple[int, int]
    td_groups: tuple[int, int]
    """TD groups per year of study (the first year gets the upper bound)."""
    tp_per_td: tuple[int, int]
    tp_sessions: int
    big_groups: int = 0
    """Years of study given a large elective catalogue (docs/ade.md §7.4: the biggest groups pass 7,000 events)."""
    electives_per_big_group: int = 0


PRESETS: Final[dict[str, Preset]] = {
    "tiny": Preset(trainee_nodes=24, instructors=10, rooms=8, sites=1, components=1,
                   subjects_per_semester=(2, 2), td_groups=(2, 2), tp_per_td=(2, 2), tp_sessions=3),
    "demo": Preset(trainee_nodes=600, instructors=330, rooms=190, sites=2, components=6,
                   subjects_per_semester=(3, 4), td_groups=(3, 7), tp_per_td=(1, 3), tp_sessions=6,
                   big_groups=1, electives_per_big_group=40),
    "large": Preset(trainee_nodes=6000, instructors=5000, rooms=2225, sites=6, components=36,
                    subjects_per_semester=(2, 3), td_groups=(2, 7), tp_per_td=(1, 3), tp_sessions=6,
                    big_groups=3, electives_per_big_group=280),
}
