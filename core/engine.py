"""The engine: load models once, analyse a source once, swap many frames.

Every OBS filter and every ComfyUI model object owns its own Engine. It is safe for one
producer thread (settings, source) and one worker thread (swap): the worker reads an
immutable snapshot of the state at the start of each frame, and a producer builds a new
snapshot (loading any model that changed) before it swaps it in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .align import warp_face
from .detect import Detector, DetectorSettings, load_detector
from .errors import NoFaceError, SettingsError
from .paste import PasteRegion, paste_into
from .recognize import Recognizer
from .resolve import resolve
from .runtime import RuntimeSettings
from .select import FaceSelection, order_faces
from .source import SourceFace
from .swap import Swapper
from .types import Embedding, Face, Frame, Matrix

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineSettings:
    """Everything a user can set; models are manifest names or paths."""

    swapper: str = "inswapper_128"
    detector: str = "det_10g"
    recognizer: str = "w600k_r50"
    models_dir: str | None = None
    provider: str = "auto"
    threads: int = 0
    det_size: int = 640
    det_thresh: float = 0.5
    det_nms: float | None = None
    max_faces: int = 0
    faces: FaceSelection = field(default_factory=FaceSelection)
    pixel_boost: int = 0
    """Crop size for 128 models (256, 384, 512: k^2 swaps per face); 0 is the model's own size."""
    blend: float = 1.0
    """1 is a full swap, 0 leaves the face as it was."""
    detail: float = 1.0
    """Share of the target's fine detail (finer than the swapper's crop) kept; 0 is the reference recipe."""

    def validate(self) -> EngineSettings:
        if not 0.0 <= self.blend <= 1.0:
            raise SettingsError(f"blend is {self.blend}; it must be between 0 and 1.")
        if not 0.0 <= self.detail <= 1.0:
            raise SettingsError(f"detail is {self.detail}; it must be between 0 and 1.")
        if not 0.0 < self.det_thresh < 1.0:
            raise SettingsError(f"det_thresh is {self.det_thresh}; it must be between 0 and 1.")
        if self.det_size < 32 or self.det_size % 32:
            raise SettingsError(f"det_size is {self.det_size}; use a multiple of 32 such as 320 or 640.")
        if self.pixel_boost and (self.pixel_boost % 128 or not 128 <= self.pixel_boost <= 1024):
            raise SettingsError(f"pixel_boost is {self.pixel_boost}; use 0 (off), 256, 384 or 512.")
        if self.max_faces < 0 or self.threads < 0:
            raise SettingsError("max_faces and threads must be 0 or more.")
        return self

    @property
    def runtime(self) -> RuntimeSettings:
        return RuntimeSettings(provider=self.provider, threads=self.threads)

    @property
    def detection(self) -> DetectorSettings:
        return DetectorSettings(self.det_size, self.det_thresh, self.det_nms, self.max_faces)


@dataclass(frozen=True)
class SwapResult:
    frame: Frame
    faces: list[Face]
    """Every face detected."""
    swapped: list[Face]
    regions: list[PasteRegion]
    """Where each swapped face changed the frame, with its blend mask."""
    crops: list[SwappedCrop] = field(default_factory=list)
    """What the swapper made for each swapped face, so a live session can paste it again later."""

    def mask(self) -> np.ndarray:
        """The blend weight of the swap at every pixel (H x W, 0..1)."""
        mask = np.zeros(self.frame.shape[:2], dtype=np.float32)
        for r in self.regions:
            np.maximum(mask[r.slices], r.mask, out=mask[r.slices])
        return mask


@dataclass(frozen=True)
class SwappedCrop:
    """One swapper output with the aligned crop it was given and the frame-to-crop matrix."""

    swapped: Frame
    original: Frame
    matrix: Matrix


@dataclass(frozen=True)
class _State:
    settings: EngineSettings
    detector: Detector
    detector_path: Path
    swapper: Swapper
    source: SourceFace | None = None
    latent: np.ndarray | None = None
    reference: Embedding | None = None


class Engine:
    def __init__(self, settings: EngineSettings | None = None) -> None:
        self._producer = threading.Lock()
        self._recognizer: tuple[tuple[str, str | None, RuntimeSettings], Recognizer] | None = None
        self._state = self._build(None, (settings or EngineSettings()).validate())

    # ---------------------------------------------------------------- state
    def _build(self, old: _State | None, settings: EngineSettings) -> _State:
        """A new snapshot for ``settings``, reusing every model whose file and runtime did not change."""
        runtime = settings.runtime
        same_runtime = old is not None and old.settings.runtime == runtime
        det_path = resolve(settings.detector, settings.models_dir).path
        if old is not None and same_runtime and old.detector_path == det_path:
            detector = old.detector
            if detector.settings != settings.detection:
                detector = load_detector(det_path, settings.detection, runtime, session=detector.session)
        else:
            detector = load_detector(det_path, settings.detection, runtime)
        swap_path = resolve(settings.swapper, settings.models_dir).path
        if old is not None and same_runtime and old.swapper.path == swap_path:
            swapper = old.swapper
        else:
            swapper = Swapper(swap_path, runtime)
        source = old.source if old else None
        latent = swapper.latent(source.embedding) if source is not None else None
        return _State(settings, detector, det_path, swapper, source, latent, old.reference if old else None)

    @property
    def settings(self) -> EngineSettings:
        return self._state.settings

    @property
    def swapper(self) -> Swapper:
        return self._state.swapper

    @property
    def detector(self) -> Detector:
        return self._state.detector

    @property
    def source(self) -> SourceFace | None:
        return self._state.source

    def update(self, settings: EngineSettings | None = None, **changes: object) -> EngineSettings:
        """Apply new settings; only models whose file or runtime changed are reloaded."""
        with self._producer:
            new = replace(settings or self._state.settings, **changes).validate()  # type: ignore[arg-type]
            self._state = self._build(self._state, new)
            return new

    def recognizer(self) -> Recognizer:
        """The ArcFace model, loaded on first use (a saved face model needs none)."""
        settings = self._state.settings
        key = (settings.recognizer, settings.models_dir, settings.runtime)
        cached = self._recognizer
        if cached is None or cached[0] != key:
            with self._producer:
                cached = self._recognizer
                if cached is None or cached[0] != key:
                    path = resolve(settings.recognizer, settings.models_dir).path
                    cached = (key, Recognizer(path, settings.runtime))
                    self._recognizer = cached
        return cached[1]

    # ---------------------------------------------------------------- sources
    def set_source(self, source: SourceFace | None) -> None:
        with self._producer:
            state = self._state
            latent = state.swapper.latent(source.embedding) if source is not None else None
            self._state = replace(state, source=source, latent=latent)

    def largest_face(self, image: Frame, name: str = "image") -> Face:
        """The largest face of ``image`` with its embedding; NoFaceError names ``name``."""
        return self.face_at(image, 0, "large-small", name)

    def face_at(self, image: Frame, index: int = 0, order: str = "large-small", name: str = "image") -> Face:
        """Face number ``index`` of ``image``, counted in ``order``, with its embedding."""
        faces = order_faces(self.detect(image), order)
        where = f"detector {Path(self.settings.detector).name}, threshold {self.settings.det_thresh}"
        if not faces:
            raise NoFaceError(
                f"No face found in {name} (0 faces detected; {where}). "
                "Use a clear, frontal photo or lower the detection threshold."
            )
        if not 0 <= index < len(faces):
            raise NoFaceError(
                f"{name} has {len(faces)} face(s) ({where}); face index {index} is out of range: faces "
                f"are counted {order} from 0, so choose an index from 0 to {len(faces) - 1}."
            )
        face = faces[index]
        self.recognizer().embed(image, [face])
        return face

    def analyse_source(
        self,
        images: Sequence[Frame],
        names: Sequence[str] | None = None,
        *,
        face_index: int = 0,
        order: str = "large-small",
        skip_missing: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> SourceFace:
        """The averaged identity of face ``face_index`` (default: the largest) in each image.

        ``skip_missing`` leaves out images without that face (a video's blurred frames) and fails
        only when none has it; ``progress(done, total)`` is called after each image.
        """
        names = list(names) if names is not None else [f"source image {i + 1}" for i in range(len(images))]
        embeddings, used, missing = [], [], []
        for done, (img, name) in enumerate(zip(images, names, strict=True), start=1):
            try:
                embeddings.append(self.face_at(img, face_index, order, name).embedding)
                used.append(name)
            except NoFaceError as error:
                if not skip_missing or len(images) == 1:
                    raise
                missing.append(str(error))
            if progress is not None:
                progress(done, len(images))
        if missing and not embeddings:
            raise NoFaceError(
                f"None of the {len(images)} source images has a usable face. First: {missing[0]}"
            )
        if missing:
            log.warning(
                "%d of %d source images have no usable face and were left out.", len(missing), len(images)
            )
        return SourceFace.average(embeddings, {"images": ", ".join(used)})  # type: ignore[arg-type]

    @property
    def reference(self) -> Embedding | None:
        return self._state.reference

    def set_reference(self, embedding: Embedding | None) -> None:
        """The face that ``similar`` selection compares against."""
        with self._producer:
            self._state = replace(self._state, reference=embedding)

    # ---------------------------------------------------------------- frames
    def detect(self, frame: Frame) -> list[Face]:
        return self._state.detector.detect(frame)

    def swap(
        self, frame: Frame, faces: list[Face] | None = None, *, in_place: bool = False, select: bool = True
    ) -> SwapResult:
        """Swap the selected faces of ``frame``.

        ``faces`` skips detection (a tracker's output); ``select=False`` swaps exactly those faces
        (the live session chooses faces itself, so that the choice stays stable over frames).
        """
        state = self._state
        if state.latent is None:
            raise SettingsError("No source face is set: give a source image or a saved face model first.")
        if faces is None:
            faces = state.detector.detect(frame)
        out = frame if in_place else frame.copy()
        if not faces:
            return SwapResult(out, [], [], [])
        if select:
            selection = state.settings.faces
            embed = (lambda fs: self.recognizer().embed(frame, fs)) if selection.mode == "similar" else None
            targets = selection.apply(faces, state.reference, embed)
        else:
            targets = list(faces)
        size = max(state.settings.pixel_boost, state.swapper.size)
        if size % state.swapper.size:
            size = state.swapper.size
        warped = [warp_face(frame, f.kps, size) for f in targets]  # all warps before any paste
        swapped = state.swapper.swap_crops([crop for crop, _ in warped], state.latent)
        regions = []
        blend, detail = state.settings.blend, state.settings.detail
        for result, (crop, matrix) in zip(swapped, warped, strict=True):
            region = paste_into(out, result, matrix, blend, detail, crop)
            if region is not None:
                regions.append(region)
        crops = [SwappedCrop(r, c, m) for r, (c, m) in zip(swapped, warped, strict=True)]
        return SwapResult(out, list(faces), targets, regions, crops)
