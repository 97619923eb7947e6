"""What SwapFace says about its batch, so that a frame returned unchanged is never a silent no-op.

A frame comes back as it went in when the detector finds no face in it, or when the faces it has
are not the ones target_faces asks for (an index past the last face, nothing similar enough to
reference_face). The report names those frames and what to change; it goes to the log as a
warning and to SwapFace's ``report`` output (a STRING for a Preview Any or Show Text node).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..core.select import FaceSelection

log = logging.getLogger(__name__)

SHOWN = 8
"""Frame numbers listed before the rest are only counted."""


def _frames(numbers: list[int], count: int) -> str:
    if count == 1:
        return "the image"
    shown = ", ".join(str(n + 1) for n in numbers[:SHOWN])
    more = f" and {len(numbers) - SHOWN} more" if len(numbers) > SHOWN else ""
    return f"frame{'s' if len(numbers) > 1 else ''} {shown}{more} of {count}"


@dataclass
class SwapReport:
    selection: FaceSelection
    count: int
    """Frames in the batch."""
    swapped: int = 0
    no_face: list[int] = field(default_factory=list)
    not_chosen: dict[int, int] = field(default_factory=dict)
    """Frame -> faces found, for frames whose faces target_faces did not choose."""
    short: dict[int, int] = field(default_factory=dict)
    """Frame -> faces found, for frames that lack some of the asked indices (but had others swapped)."""

    def add(self, frame: int, found: int, swapped: int) -> None:
        self.swapped += swapped
        if found == 0:
            self.no_face.append(frame)
        elif swapped == 0:
            self.not_chosen[frame] = found
        elif self.selection.mode == "index" and max(self.selection.indices) >= found:
            self.short[frame] = found

    def problems(self) -> list[str]:
        """One sentence per kind of unchanged frame, with what to change."""
        lines = []
        if self.no_face:
            lines.append(
                f"No face found in {_frames(self.no_face, self.count)}: returned unchanged. Lower det_thresh "
                "or raise det_size in Load Swap Model, or use a larger, sharper image with a visible face."
            )
        if self.not_chosen:
            lines.append(f"{self._why_not_chosen(self.not_chosen)}: returned unchanged.")
        if self.short:
            lines.append(f"{self._why_not_chosen(self.short)}; the other chosen faces were swapped.")
        return lines

    def _why_not_chosen(self, frames: dict[int, int]) -> str:
        where = _frames(sorted(frames), self.count)
        if self.selection.mode == "similar":
            return (
                f"No face in {where} is similar enough to reference_face (cosine below "
                f"{self.selection.threshold:g}); lower similarity_threshold to swap less similar faces"
            )
        low, high = min(frames.values()), max(frames.values())
        faces = f"{high} face{'s' if high > 1 else ''}" if low == high else f"{low} to {high} faces"
        missing = [str(i) for i in self.selection.indices if i >= low]
        return (
            f"target_faces {','.join(map(str, self.selection.indices))}: {where} "
            f"{'has' if len(frames) == 1 else 'have'} {faces} (counted "
            f"{self.selection.order} from 0), so face {', '.join(missing)} is not there"
        )

    def text(self) -> str:
        """The whole report: what was swapped, then each problem."""
        done = f"Swapped {self.swapped} face{'s' if self.swapped != 1 else ''} in {self.count} frame" + (
            "s." if self.count != 1 else "."
        )
        return "\n".join([done, *self.problems()])

    def log_problems(self) -> None:
        for line in self.problems():
            log.warning("Swap Face: %s", line)
