"""The core engine as the filter sees it: configured from FilterSettings, one frame in, one result out.

Everything here runs in the worker thread, so loading a model never blocks OBS. The face logic
is the core's: a ``LiveSession`` (detection every N frames with tracking in between, smoothed
landmarks, a stable choice of faces) over the engine; ``process`` is the one seam per frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

from ..core.carry import CarrySettings
from ..core.engine import Engine, SwapResult
from ..core.errors import InswapperLiveError, SettingsError
from ..core.imageio import read_image
from ..core.live import LiveSession, LiveSettings
from ..core.mapping import slot_facemap
from ..core.source import SourceFace
from ..core.types import Frame
from .formats import Box, FrameView, to_bgr, write_back
from .label import draw_label
from .settings import FilterSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelStatus:
    state: str = "idle"
    """idle (no settings yet), loading, ready, disabled or error."""
    message: str = ""
    provider: str = ""


class SwapModel:
    """Owns one Engine; ``configure`` applies settings (loading only what changed), ``process`` swaps."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._settings: FilterSettings | None = None
        self._applied: FilterSettings | None = None
        """The last enabled settings that loaded without error."""
        self._session: LiveSession | None = None
        self.status = ModelStatus()

    def configure(self, settings: FilterSettings) -> None:
        """Apply ``settings``; on failure the status says why and ``ready`` is False."""
        if settings == self._settings and self.status.state in ("ready", "disabled"):
            return
        self._settings = settings
        if not settings.enabled:
            self.status = ModelStatus("disabled", "", self.provider)
            return
        self.status = replace(self.status, state="loading", message="loading models")
        try:
            self._apply(settings)
        except Exception as error:
            self._applied = None
            message = (
                str(error) if isinstance(error, InswapperLiveError) else f"{type(error).__name__}: {error}"
            )
            self.status = ModelStatus("error", message, self.provider)
            log.error("Face swap settings not applied: %s", message)
            return
        self._applied = settings
        self.status = ModelStatus("ready", "", self.provider)
        log.info("Face swap ready: swapper %s on %s", settings.swapper, self.status.provider)

    def _apply(self, settings: FilterSettings) -> None:
        engine_settings = settings.engine_settings()
        slots = settings.source_slots()
        if not (settings.face_model or settings.source_images or slots):
            raise SettingsError(
                "No source face: choose one or more source images or a saved face model, or use source slots."
            )
        old = self._applied
        if self._engine is None:
            self._engine = Engine(engine_settings)
        else:
            self._engine.update(engine_settings)
        engine = self._engine
        if old is None or old.source_key() != settings.source_key():
            has_source = settings.face_model or settings.source_images
            engine.set_source(self._source(engine, settings) if has_source else None)
        if old is None or old.slots_key() != settings.slots_key():
            engine.set_facemap(slot_facemap(engine, slots, engine.source) if slots else None)
        if old is None or old.reference_key() != settings.reference_key():
            reference = None
            if settings.selection == "similar":
                image = read_image(settings.reference_image)
                reference = engine.largest_face(
                    image.bgr, f"reference image {settings.reference_image}"
                ).embedding
            engine.set_reference(reference)
        live = LiveSettings(
            detect_every=settings.detection_interval, carry=CarrySettings(enabled=settings.smooth_motion)
        )
        if self._session is None:
            self._session = LiveSession(engine, live)
        else:
            self._session.update(live)
            self._session.reset()  # new models or faces: tracks from before do not carry over

    @staticmethod
    def _source(engine: Engine, settings: FilterSettings) -> SourceFace:
        if settings.face_model:
            return SourceFace.load(settings.face_model)
        images = [read_image(path).bgr for path in settings.source_images]
        return engine.analyse_source(images, [f"source image {p}" for p in settings.source_images])

    @property
    def ready(self) -> bool:
        return self.status.state == "ready"

    @property
    def provider(self) -> str:
        if self._engine is None:
            return ""
        return self._engine.swapper.session.get_providers()[0].removesuffix("ExecutionProvider")

    def process(self, frame: Frame, timestamp: float | None = None) -> SwapResult:
        """Swap ``frame`` (BGR): faces detected every ``detection_interval`` frames, tracked between."""
        if self._session is None:
            raise SettingsError("The face swap model is not configured.")
        return self._session.process(frame, timestamp)

    def carried(self, before: Frame, timestamp: float) -> tuple[Frame, list[Box]]:
        """``before`` with the latest swapped faces pasted where they moved to (and the label),
        and the boxes that may differ; ``before`` itself is unchanged. Safe beside ``process``."""
        if self._session is None:
            raise SettingsError("The face swap model is not configured.")
        return self._labelled(self._session.carry(before, timestamp))

    def swap_view(self, view: FrameView) -> int:
        """Swap the faces of a frame in its own pixel format, in place; returns the pixels written.

        Only pixels the swap (or the disclosure label) changed are written back: a frame
        without a face keeps every byte.
        """
        before = to_bgr(view)
        after, boxes = self.swapped(before)
        return write_back(view, before, after, boxes)

    def swap_held(self, open_frame: Callable[[], AbstractContextManager[FrameView | None]]) -> int:
        """As ``swap_view`` for a frame that may be taken away during inference: its pixels are
        read and written only inside ``open_frame()``, which gives None once the frame is gone."""
        with open_frame() as view:
            if view is None:
                return 0
            before = to_bgr(view)
        after, boxes = self.swapped(before)
        with open_frame() as view:
            return write_back(view, before, after, boxes) if view is not None else 0

    def swapped(self, before: Frame) -> tuple[Frame, list[Box]]:
        """The swapped frame (with the label) and the boxes that may differ from ``before``."""
        return self._labelled(self.process(before))

    def _labelled(self, result: SwapResult) -> tuple[Frame, list[Box]]:
        boxes = [(r.y0, r.y1, r.x0, r.x1) for r in result.regions]
        settings = self._applied
        if settings is not None and settings.label_enabled:
            box = draw_label(result.frame, settings.label_text, settings.label_position, settings.label_size)
            if box is not None:
                boxes.append(box)
        return result.frame, boxes
