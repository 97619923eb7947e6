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
from typing import TypeVar

import numpy as np

from .align import estimate_norm, warp_face
from .attributes import GenderAge
from .detect import Detector, DetectorSettings, load_detector
from .devicepath import DevicePath, wanted
from .errors import ModelNotFoundError, NoFaceError, SettingsError
from .facemap import FaceMap, swap_by_source
from .masks import Masker, MaskMemory, MaskSettings, frame_mask
from .paste import PasteRegion, paste_into
from .recognize import Recognizer
from .resolve import resolve
from .restore import Restorer, RestoreSettings, load_restorer, rescale_crop, restore_faces, restore_swaps
from .runtime import RuntimeSettings
from .select import FaceSelection, order_faces
from .source import SourceFace
from .swap import Swapper
from .types import Embedding, Face, Frame, Mask, Matrix

log = logging.getLogger(__name__)
_M = TypeVar("_M")
_NO_SWAPPER = "This engine has no swapper model: it was made to analyse faces only (swapper setting empty)."


@dataclass(frozen=True)
class EngineSettings:
    """Everything a user can set; models are manifest names or paths."""

    swapper: str = "inswapper_128"
    """Empty for an engine that only analyses faces (``inswapper-live face``): no swapper is loaded."""
    detector: str = "det_10g"
    recognizer: str = "w600k_r50"
    genderage: str = "genderage.onnx"
    """Gender and age model (buffalo_l's), loaded only for a gender or age selection."""
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
    """Share of the target's fine detail (finer than the crop) added back where the swap kept its structure; 0 is the reference recipe."""
    restore: RestoreSettings = field(default_factory=RestoreSettings)
    """Optional face restoration of each swapped crop before paste-back (off by default)."""
    masks: MaskSettings = field(default_factory=MaskSettings)
    """Box, occlusion, region and mouth masks; none by default (the reference mask alone)."""
    device_path: str = "auto"
    """Warps, blob, paste on the swapper's device (core.devicepath): auto (GPU providers), on, off."""

    def validate(self) -> EngineSettings:
        self.masks.validate()
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
        if self.device_path not in ("auto", "on", "off"):
            raise SettingsError(f"device_path is {self.device_path!r}; use auto, on or off.")
        if self.max_faces < 0 or self.threads < 0:
            raise SettingsError("max_faces and threads must be 0 or more.")
        self.restore.validate()
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
    unmatched: tuple[str, ...] = ()
    """Face-map entries that found no face in this frame (their labels)."""
    conflicts: tuple[str, ...] = ()
    """Face-map entries that took the same face (a message for each pair)."""

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
    mask: Mask | None = None
    """The crop's combined box, occlusion, region and mouth mask, when any is enabled."""


@dataclass(frozen=True)
class _State:
    settings: EngineSettings
    detector: Detector
    detector_path: Path
    swapper: Swapper | None
    masker: Masker
    source: SourceFace | None = None
    latent: np.ndarray | None = None
    reference: Embedding | None = None
    restorer: Restorer | None = None
    facemap: FaceMap | None = None
    device: DevicePath | None = None


class Engine:
    def __init__(self, settings: EngineSettings | None = None) -> None:
        self._producer = threading.Lock()
        self._recognizer: tuple[tuple[str, str | None, RuntimeSettings], Recognizer] | None = None
        self._genderage: tuple[tuple[str, str | None, RuntimeSettings], GenderAge] | None = None
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
        swapper = None
        if settings.swapper:
            swap_path = resolve(settings.swapper, settings.models_dir).path
            if old is not None and same_runtime and old.swapper is not None and old.swapper.path == swap_path:
                swapper = old.swapper
            else:
                swapper = Swapper(swap_path, runtime)
        previous = old.masker if old is not None and same_runtime else None
        masker = Masker(settings.masks, settings.models_dir, runtime, previous)
        source = old.source if old else None
        latent = swapper.latent(source.embedding) if source is not None and swapper is not None else None
        restorer = _restorer(old, settings)
        device = None
        if swapper is not None and wanted(settings.device_path, swapper):
            device = (
                old.device
                if old is not None and old.swapper is swapper and old.device
                else DevicePath(swapper)
            )
        return _State(
            settings,
            detector,
            det_path,
            swapper,
            masker,
            source,
            latent,
            old.reference if old else None,
            restorer,
            old.facemap if old else None,
            device,
        )

    @property
    def settings(self) -> EngineSettings:
        return self._state.settings

    @property
    def swapper(self) -> Swapper:
        if self._state.swapper is None:
            raise SettingsError(_NO_SWAPPER)
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
        return self._lazy("_recognizer", self._state.settings.recognizer, Recognizer)

    def genderage(self) -> GenderAge:
        """The gender and age model, loaded on first use (only gender and age selections need it)."""
        try:
            return self._lazy("_genderage", self._state.settings.genderage, GenderAge)
        except ModelNotFoundError as error:
            raise ModelNotFoundError(
                "Gender and age selection needs genderage.onnx from InsightFace's buffalo_l: run "
                "`python install.py --model genderage`, or put it in a models folder or give its path "
                f"(genderage setting, CLI --genderage). {error}"
            ) from error

    def _lazy(self, slot: str, name: str, load: Callable[[Path, RuntimeSettings], _M]) -> _M:
        settings = self._state.settings
        key = (name, settings.models_dir, settings.runtime)
        cached = getattr(self, slot)
        if cached is None or cached[0] != key:
            with self._producer:
                cached = getattr(self, slot)
                if cached is None or cached[0] != key:
                    cached = (key, load(resolve(name, settings.models_dir).path, settings.runtime))
                    setattr(self, slot, cached)
        return cached[1]

    # ---------------------------------------------------------------- sources
    def set_source(self, source: SourceFace | None) -> None:
        with self._producer:
            state = self._state
            latent = state.swapper.latent(source.embedding) if source is not None and state.swapper else None
            self._state = replace(state, source=source, latent=latent)

    @property
    def facemap(self) -> FaceMap | None:
        return self._state.facemap

    def set_facemap(self, facemap: FaceMap | None) -> None:
        """Give each target face its own source (see core/facemap.py); None goes back to one source."""
        facemap = facemap.validate() if facemap is not None else None
        with self._producer:
            self._state = replace(self._state, facemap=facemap)

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
        self,
        frame: Frame,
        faces: list[Face] | None = None,
        *,
        in_place: bool = False,
        select: bool = True,
        sources: Sequence[SourceFace] | None = None,
        mask_memory: MaskMemory | None = None,
        face_keys: Sequence[object] | None = None,
    ) -> SwapResult:
        """Swap the selected faces of ``frame``.

        ``faces`` skips detection (a tracker's output); ``select=False`` swaps exactly those faces
        (the live session chooses faces itself, so that the choice stays stable over frames), each
        with its own ``sources`` entry when given. A face map gives each selected face its source.
        ``mask_memory`` with one ``face_keys`` entry per face (tracker ids, with ``select=False``)
        lets a live session reuse each face's model masks for ``masks.refresh_every`` frames.
        """
        state = self._state
        if state.swapper is None:
            raise SettingsError(_NO_SWAPPER)
        if state.latent is None and state.facemap is None and sources is None:
            raise SettingsError("No source face is set: give a source image or a saved face model first.")
        # Copied before detection: the detector's letterbox then reads the frame from cache.
        out = frame if in_place else frame.copy()
        if faces is None:
            faces = state.detector.detect(frame)
        if not faces:
            return SwapResult(out, [], [], [])
        targets = self._targets(state, frame, faces, select)
        unmatched: tuple[str, ...] = ()
        conflicts: tuple[str, ...] = ()
        if sources is None and state.facemap is not None:
            embed = (lambda fs: self.recognizer().embed(frame, fs)) if state.facemap.needs_identity else None
            assignment = state.facemap.assign(targets, state.settings.faces.order, embed)
            targets, sources = assignment.faces, assignment.sources
            unmatched = tuple(e.label for e in assignment.unmatched)
            conflicts = tuple(f"{a.label} and {b.label} both take one face" for a, b in assignment.conflicts)
        size = self._crop_size(state)
        if sources is None and state.restorer is None and not state.settings.masks.types:
            # The device path swaps with one source and pastes with the reference mask only.
            regions = self._device_swap(state, out, targets, size)
            if regions is not None:
                return SwapResult(out, list(faces), targets, regions, unmatched=unmatched, conflicts=conflicts)
        warped = [warp_face(frame, f.kps, size) for f in targets]  # all warps before any paste
        crops = [crop for crop, _ in warped]
        if sources is None:
            swapped = state.swapper.swap_crops(crops, state.latent)
        else:
            swapped = swap_by_source(state.swapper, crops, sources)
        keys = None if select else face_keys  # selection may drop faces, and their keys with them
        masks = state.masker.crop_masks(frame, crops, [m for _, m in warped], targets, mask_memory, keys)
        if state.restorer is not None:
            swapped, warped = restore_swaps(state.restorer, state.settings.restore, frame, swapped, warped)
            masks = [m if m is None else rescale_crop(m, c.shape[0]) for m, (c, _) in zip(masks, warped, strict=True)]
        regions = []
        blend, detail = state.settings.blend, state.settings.detail
        for result, (crop, matrix), mask in zip(swapped, warped, masks, strict=True):
            region = paste_into(out, result, matrix, blend, detail, crop, mask)
            if region is not None:
                regions.append(region)
        kept = [SwappedCrop(r, c, m, k) for r, (c, m), k in zip(swapped, warped, masks, strict=True)]
        return SwapResult(out, list(faces), targets, regions, kept, unmatched, conflicts)

    def restore(self, frame: Frame, faces: list[Face] | None = None, *, in_place: bool = False) -> SwapResult:
        """Restore the selected faces of ``frame`` with the restore setting's model, without a swap."""
        state = self._state
        if state.restorer is None:
            raise SettingsError(
                "No face restoration model is set: choose one for the restore setting "
                "(gfpgan_1.4, codeformer or gpen_bfr_512)."
            )
        if faces is None:
            faces = state.detector.detect(frame)
        out = frame if in_place else frame.copy()
        targets = self._targets(state, frame, faces, True)
        regions = restore_faces(state.restorer, state.settings.restore, out, [f.kps for f in targets])
        return SwapResult(out, list(faces), targets, regions)

    def _targets(self, state: _State, frame: Frame, faces: list[Face], select: bool) -> list[Face]:
        if not select:
            return list(faces)
        selection = state.settings.faces
        embed = (lambda fs: self.recognizer().embed(frame, fs)) if selection.mode == "similar" else None
        attributes = (lambda fs: self.genderage().predict(frame, fs)) if selection.needs_attributes else None
        return selection.apply(faces, state.reference, embed, attributes)

    @staticmethod
    def _crop_size(state: _State) -> int:
        size = max(state.settings.pixel_boost, state.swapper.size)
        return size if size % state.swapper.size == 0 else state.swapper.size

    def _device_swap(
        self, state: _State, out: Frame, targets: list[Face], size: int
    ) -> list[PasteRegion] | None:
        """The device path's regions, or None for the CPU path (no device path, overlapping faces).

        A device path that fails is turned off for this engine, with a warning: the CPU path
        still gives the same frames.
        """
        device = state.device
        if device is None or not device.enabled:
            return None
        try:
            matrices = [estimate_norm(f.kps, size) for f in targets]
            settings = state.settings
            return device.swap(out, matrices, size, settings.blend, state.latent, settings.detail)
        except Exception as error:  # an op the provider lacks: keep streaming on the CPU path
            if state.settings.device_path == "on":
                raise
            device.enabled = False
            log.warning("The device frame path failed (%s); this engine uses the CPU path.", error)
            return None

    def face_mask(self, frame: Frame, faces: list[Face] | None = None, *, select: bool = True) -> Mask:
        """Where a swap of ``frame`` would show (H x W, 0..1), with the enabled masks, without swapping."""
        state = self._state
        if faces is None:
            faces = state.detector.detect(frame)
        targets = self._targets(state, frame, faces, select) if faces else []
        warped = [warp_face(frame, f.kps, self._crop_size(state)) for f in targets]
        crops, matrices = [c for c, _ in warped], [m for _, m in warped]
        return frame_mask(
            frame.shape[:2], matrices, crops, state.masker.crop_masks(frame, crops, matrices, targets)
        )


def _restorer(old: _State | None, settings: EngineSettings) -> Restorer | None:
    """The restore setting's model: None when off, the loaded one while its name, folder and runtime hold."""
    name = settings.restore.model
    if not name:
        return None
    if (
        old is not None
        and old.restorer is not None
        and old.settings.restore.model == name
        and old.settings.models_dir == settings.models_dir
        and old.settings.runtime == settings.runtime
    ):
        return old.restorer
    return load_restorer(name, settings.models_dir, settings.runtime)
