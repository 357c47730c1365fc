"""Progress on stderr for long work: shown only when stderr is a terminal and the user did
not ask for quiet; never on stdout, which may carry a network file or data."""

from __future__ import annotations

import sys
import time


class Progress:
    """``p(done, total)`` redraws one status line at most ten times a second;
    ``p.done()`` clears it."""

    def __init__(self, label: str, enabled: bool | None = None, stream=None,
                 unit: str = "layers"):
        self.stream, self.unit = stream or sys.stderr, unit
        if enabled is None:
            enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.enabled, self.label = enabled, label
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1 and done < total:
            return
        self.last = now
        pct = 100.0 * done / total if total else 100.0
        self.stream.write(f"\r{self.label}: {pct:5.1f}% ({done}/{total} {self.unit})\033[K")
        self.stream.flush()
        self.shown = True

    def note(self, text: str) -> None:
        if self.enabled:
            self.stream.write(f"\r{text}\033[K")
            self.stream.flush()
            self.shown = True

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False
