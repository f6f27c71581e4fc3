"""One progress display for every long CLI command (``schedulesy sync``, ``schedulesy rebuild``)."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from typing import TextIO, TypeAlias

Progress: TypeAlias = Callable[[str, int, int], None]
"""``(step, done, total)``: how a long operation reports how far it got, step by step."""

REDRAW_SECONDS = 0.1


class ProgressBar:
    """``(step, done, total)`` → a bar redrawn in place on a terminal (at most ten times a second);
    elsewhere a line per tenth of each step, so that logs stay readable."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.interactive = self.stream.isatty()
        self._step: str | None = None
        self._reached = False  # the step got to its total: later calls for it draw nothing
        self._last_draw = 0.0
        self._last_tenth = -1
        self._open = False  # a terminal line is drawn and not ended yet

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != self._step:
            self.finish()
            self._step, self._reached, self._last_draw, self._last_tenth = step, False, 0.0, -1
        if self._reached:
            return
        self._reached = done >= total
        fraction = 1.0 if total <= 0 else min(1.0, max(0.0, done / total))
        if self.interactive:
            now = time.monotonic()
            if not self._reached and now - self._last_draw < REDRAW_SECONDS:
                return
            self._last_draw = now
            filled = int(fraction * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r{step} [{bar}] {fraction:4.0%} {done}/{total}")
            self._open = True
            if self._reached:
                self.finish()
        else:
            tenth = int(fraction * 10)
            if tenth != self._last_tenth:
                self._last_tenth = tenth
                self.stream.write(f"{step}: {fraction:.0%} ({done}/{total})\n")
        self.stream.flush()

    def step(self, name: str) -> Callable[[int, int], None]:
        """This bar as the ``(done, total)`` callback of an operation that has one step."""
        return functools.partial(self, name)

    def finish(self) -> None:
        """End the terminal line of a step that stopped before its total (a failure)."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
