"""The ComfyUI nodes (classic V1 API).

Each node only translates ComfyUI's tensors and widget values and calls the engine; detection,
selection, recognition, swapping and paste-back are all the core's. Node ids and custom types
carry the project prefix, because ComfyUI shares both namespaces between every installed pack.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.engine import Engine
from ..core.errors import InputError, OutputError, SettingsError
from ..core.face_parser import FACE_REGIONS
from ..core.facemap import FaceMap
from ..core.mapping import indexed_facemap
from ..core.recognize import cosine
from ..core.restore import RestoreSettings
from ..core.select import ORDERS, FaceSelection
from ..core.source import SourceFace
from . import comfy_adapter, tensors
from .loading import fingerprint, load_engine, locate, model_choices, provider_choices
from .mask_options import MASK_MODELS, mask_inputs, mask_settings
from .swap_report import SwapReport

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
CATEGORY = "inswapper-live"
MODEL_TYPE = "INSWAPPER_LIVE_MODEL"
FACE_TYPE = "INSWAPPER_LIVE_FACE"
FACE_LIST_TYPE = "INSWAPPER_LIVE_FACE_LIST"
GENDERS = ("any", "female", "male")
PIXEL_BOOSTS = ("native", "256", "384", "512")
FACE_SUFFIX = ".safetensors"
NO_RESTORE = "none"

InputTypes = dict[str, dict[str, tuple[Any, ...]]]


def _frame_names(label: str, count: int) -> list[str]:
    return [label] if count == 1 else [f"{label} frame {i + 1} of {count}" for i in range(count)]


def _analyse(
    engine: Engine, images: torch.Tensor, label: str, face_index: int = 0, order: str = "large-small"
) -> SourceFace:
    """The averaged identity of one face per frame, with a progress bar and Cancel checked per frame."""
    tensors.check_images(images, label)
    count = int(images.shape[0])
    bar = comfy_adapter.progress_bar(count)

    def step(_done: int, _total: int) -> None:
        bar.update(1)
        comfy_adapter.check_interrupt()

    return engine.analyse_source(
        tensors.frames(images),
        _frame_names(label, count),
        face_index=face_index,
        order=order,
        skip_missing=True,
        progress=step,
    )


class LoadSwapModel:
    DESCRIPTION = (
        "Loads a face swapper (inswapper_128, inswapper-512-live), a face detector and the ArcFace "
        "recogniser once; later runs with the same files and settings reuse the loaded models."
    )
    RETURN_TYPES = (MODEL_TYPE,)
    RETURN_NAMES = ("swap_model",)
    OUTPUT_TOOLTIPS = ("The loaded models, for ExtractSource, SwapFace and FaceSimilarity.",)
    FUNCTION = "load"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls) -> InputTypes:
        return {
            "required": {
                "swapper": (
                    model_choices("swapper"),
                    {
                        "tooltip": "inswapper model (.onnx) from models/inswapper_live, insightface, reswapper or hyperswap."
                    },
                ),
                "detector": (
                    model_choices("detector"),
                    {"tooltip": "Face detector: det_10g (buffalo_l), det_2.5g, det_500m (SCRFD) or YuNet."},
                ),
                "recognizer": (
                    model_choices("recognizer"),
                    {
                        "tooltip": "ArcFace w600k_r50 from buffalo_l: the only identity model inswapper accepts."
                    },
                ),
                "provider": (
                    provider_choices(),
                    {"tooltip": "onnxruntime execution provider; auto takes the fastest this install has."},
                ),
                "det_size": (
                    "INT",
                    {"default": 640, "min": 160, "max": 2048, "step": 32, "tooltip": "Detector input size."},
                ),
                "det_thresh": (
                    "FLOAT",
                    {
                        "default": 0.5,
                        "min": 0.05,
                        "max": 0.95,
                        "step": 0.05,
                        "tooltip": "Detection score threshold: lower it when faces are missed.",
                    },
                ),
                "threads": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 256,
                        "tooltip": "CPU threads per model; 0 uses all cores.",
                    },
                ),
            }
        }

    @classmethod
    def IS_CHANGED(cls, swapper: str, detector: str, recognizer: str, **_settings: object) -> str:
        """Run again when a model file was replaced under the same name (ComfyUI would reuse its output)."""
        return fingerprint(swapper, detector, recognizer)

    def load(
        self,
        swapper: str,
        detector: str,
        recognizer: str,
        provider: str,
        det_size: int,
        det_thresh: float,
        threads: int,
    ) -> tuple[Engine]:
        return (load_engine(swapper, detector, recognizer, provider, threads, det_size, det_thresh),)


class ExtractSource:
    DESCRIPTION = (
        "The identity to swap in: one face per image (the largest by default), averaged over an image "
        "batch; frames without that face are left out."
    )
    RETURN_TYPES = (FACE_TYPE,)
    RETURN_NAMES = ("source_face",)
    OUTPUT_TOOLTIPS = ("The averaged source identity, for SwapFace and SaveFaceModel.",)
    FUNCTION = "extract"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls) -> InputTypes:
        return {
            "required": {
                "swap_model": (MODEL_TYPE,),
                "image": ("IMAGE", {"tooltip": "One photo of the source person, or a batch of several."}),
                "face_index": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 99,
                        "tooltip": "Which face of each image, counted in face_order.",
                    },
                ),
                "face_order": (list(ORDERS), {"default": "large-small"}),
            }
        }

    def extract(
        self, swap_model: Engine, image: torch.Tensor, face_index: int, face_order: str
    ) -> tuple[SourceFace]:
        return (_analyse(swap_model, image, "source image", face_index, face_order),)


def _selection(
    target_faces: str, order: str, reference: SourceFace | None, threshold: float
) -> FaceSelection:
    spec = target_faces.strip().lower().replace(" ", "") or "all"
    if reference is not None:
        if spec != "all":
            raise SettingsError(
                f"SwapFace has a reference_face connected and target_faces {target_faces!r}: with a reference, "
                "the faces similar to it are swapped. Set target_faces to all or disconnect reference_face."
            )
        return FaceSelection("similar", threshold=threshold)
    try:
        selection = FaceSelection.parse("index:" + spec if spec[0].isdigit() else spec)
    except SettingsError as error:
        raise SettingsError(
            f"target_faces {target_faces!r} is not understood: use all, largest, or face indices such as "
            f"0,2 (counted {order} from 0)."
        ) from error
    return replace(selection, order=order)


class SwapFace:
    DESCRIPTION = (
        "Swaps the source face into every frame of an image batch (a video is a batch of frames); "
        "also gives the mask of the swapped regions."
    )
    RETURN_TYPES = ("IMAGE", "MASK", "STRING")
    RETURN_NAMES = ("images", "swap_mask", "report")
    OUTPUT_TOOLTIPS = (
        "The frames with faces swapped.",
        "Where each frame changed, 0..1 [B,H,W].",
        "What was swapped, and which frames came back unchanged and why (no face, index not there).",
    )
    FUNCTION = "swap"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls) -> InputTypes:
        return {
            "required": {
                "swap_model": (MODEL_TYPE,),
                "source_face": (FACE_TYPE,),
                "images": ("IMAGE", {"tooltip": "The image or batch of frames to change."}),
                "target_faces": (
                    "STRING",
                    {
                        "default": "all",
                        "tooltip": "all, largest, or face indices such as 0,2 (counted in face_order).",
                    },
                ),
                "face_order": (list(ORDERS), {"default": "left-right"}),
                "pixel_boost": (
                    list(PIXEL_BOOSTS),
                    {
                        "default": "native",
                        "tooltip": "Swap 128 px models at 256/384/512 (k^2 inferences per face).",
                    },
                ),
                "blend": (
                    "FLOAT",
                    {
                        "default": 1.0,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.05,
                        "tooltip": "1 swaps fully, 0 keeps the face.",
                    },
                ),
            },
            "optional": {
                "reference_face": (
                    FACE_TYPE,
                    {"tooltip": "Swap only the faces similar to this one (target_faces must be all)."},
                ),
                "similarity_threshold": (
                    "FLOAT",
                    {
                        "default": 0.6,
                        "min": -1.0,
                        "max": 1.0,
                        "step": 0.05,
                        "tooltip": "Cosine to reference_face.",
                    },
                ),
                "mask": (
                    "MASK",
                    {"tooltip": "Keep the swap inside this mask (one for all frames or one each)."},
                ),
                **_restore_inputs(optional=True),
                "face_list": (
                    FACE_LIST_TYPE,
                    {"tooltip": "More source faces (Make Face List), numbered from 1 after source_face."},
                ),
                "source_faces_index": (
                    "STRING",
                    {
                        "default": "0",
                        "tooltip": "Which source gives each face of input_faces_index: 0 is source_face, 1.. "
                        "the face_list's; one number serves every face.",
                    },
                ),
                "input_faces_index": (
                    "STRING",
                    {
                        "default": "",
                        "tooltip": "Faces to swap, each with its own source (0,1 counted in face_order among "
                        "the target_faces); empty swaps source_face into all target_faces.",
                    },
                ),
                "target_gender": (list(GENDERS), {"default": "any", "tooltip": "Swap only women or men."}),
                "target_age": (
                    "STRING",
                    {"default": "", "tooltip": "Swap only faces of this estimated age, such as 20-40."},
                ),
                **mask_inputs(),
            },
        }

    def swap(
        self,
        swap_model: Engine,
        source_face: SourceFace,
        images: torch.Tensor,
        target_faces: str,
        face_order: str,
        pixel_boost: str,
        blend: float,
        reference_face: SourceFace | None = None,
        similarity_threshold: float = 0.6,
        mask: torch.Tensor | None = None,
        restore_model: str = NO_RESTORE,
        restore_blend: float = RestoreSettings.blend,
        codeformer_fidelity: float = RestoreSettings.fidelity,
        face_list: tuple[SourceFace, ...] | None = None,
        source_faces_index: str = "0",
        input_faces_index: str = "",
        target_gender: str = "any",
        target_age: str = "",
        face_masks: str = "",
        mask_padding: str = "0,0,0,0",
        mask_blur: float = 0.0,
        mask_regions: str = ",".join(FACE_REGIONS),
        mouth_from: str = "parser",
        occluder: str = MASK_MODELS["occluder"],
        parser: str = MASK_MODELS["parser"],
        landmarker: str = MASK_MODELS["landmarker"],
    ) -> tuple[torch.Tensor, torch.Tensor, str]:
        tensors.check_images(images, "images")
        count, height, width = (int(v) for v in images.shape[:3])
        limit = tensors.limit_mask(mask, count, height, width)
        selection = _with_attributes(
            _selection(target_faces, face_order, reference_face, similarity_threshold),
            target_gender,
            target_age,
        )
        report = SwapReport(selection, count)
        if selection.needs_attributes:
            swap_model.update(genderage=str(locate("genderage.onnx", "target_gender / target_age")))
        swap_model.set_facemap(_facemap(source_face, face_list, source_faces_index, input_faces_index))
        masks = mask_settings(
            face_masks, mask_padding, mask_blur, mask_regions, mouth_from, occluder, parser, landmarker
        )
        swap_model.update(
            faces=selection,
            pixel_boost=0 if pixel_boost == "native" else int(pixel_boost),
            blend=float(blend),
            restore=_restore_settings(restore_model, restore_blend, codeformer_fidelity),
            masks=masks,
        )
        swap_model.set_source(source_face)
        swap_model.set_reference(reference_face.embedding if reference_face is not None else None)
        out, masks = tensors.output_batch(images)
        bar = comfy_adapter.progress_bar(count)
        unmatched: Counter[str] = Counter()
        for i in range(count):
            comfy_adapter.check_interrupt()
            result = swap_model.swap(tensors.to_bgr(images[i]), in_place=True)
            tensors.write_swap(out, masks, i, result)
            unmatched.update(result.unmatched)
            report.add(i, len(result.faces), len(result.swapped))
            bar.update(1)
        for label, frames in unmatched.items():
            log.warning("SwapFace: %s found no face in %d of %d frames.", label, frames, count)
        report.log_problems()
        return (*tensors.apply_limit(out, images, masks, limit), report.text())


def _restore_inputs(optional: bool) -> dict[str, tuple[Any, ...]]:
    """The restoration widgets: optional on SwapFace (default none), required on RestoreFace."""
    files = model_choices("restorer")
    choices = [NO_RESTORE, *files] if optional else files
    options: dict[str, Any] = {
        "tooltip": "Face restorer run on each face before it is pasted back: GFPGAN 1.4 (Apache-2.0 "
        "code), CodeFormer (S-Lab licence, non-commercial), GPEN-BFR-512 (non-commercial); from "
        "models/inswapper_live or models/facerestore_models."
    }
    if choices:
        options["default"] = choices[0]
    return {
        "restore_model": (choices, options),
        "restore_blend": (
            "FLOAT",
            {
                "default": RestoreSettings.blend,
                "min": 0.0,
                "max": 1.0,
                "step": 0.05,
                "tooltip": "How much of the restored face is used; 0 is no restoration.",
            },
        ),
        "codeformer_fidelity": (
            "FLOAT",
            {
                "default": RestoreSettings.fidelity,
                "min": 0.0,
                "max": 1.0,
                "step": 0.05,
                "tooltip": "CodeFormer only: lower restores more, higher stays closer to the input.",
            },
        ),
    }


def _restore_settings(model: str, blend: float, fidelity: float) -> RestoreSettings:
    if model == NO_RESTORE:
        return RestoreSettings(blend=float(blend), fidelity=float(fidelity))
    return RestoreSettings(str(locate(model, "restore")), float(blend), float(fidelity))


class RestoreFace:
    DESCRIPTION = (
        "Restores every face of an image batch with GFPGAN, CodeFormer or GPEN-BFR (as ReActor's "
        "restore step): each face is aligned the way the restorer was trained, all faces of a frame "
        "go to the model together, and only the faces change."
    )
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    OUTPUT_TOOLTIPS = ("The frames with their faces restored (same size and channels).",)
    FUNCTION = "restore"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls) -> InputTypes:
        return {
            "required": {
                "swap_model": (MODEL_TYPE, {"tooltip": "Its face detector finds the faces."}),
                "images": ("IMAGE", {"tooltip": "The image or batch of frames whose faces to restore."}),
                **_restore_inputs(optional=False),
            }
        }

    def restore(
        self,
        swap_model: Engine,
        images: torch.Tensor,
        restore_model: str,
        restore_blend: float,
        codeformer_fidelity: float,
    ) -> tuple[torch.Tensor]:
        tensors.check_images(images, "images")
        if restore_model == NO_RESTORE:
            raise SettingsError("RestoreFace needs a restore_model: choose a face restorer.")
        swap_model.update(
            faces=FaceSelection(),
            restore=_restore_settings(restore_model, restore_blend, codeformer_fidelity),
        )
        count = int(images.shape[0])
        out, masks = tensors.output_batch(images)
        bar = comfy_adapter.progress_bar(count)
        for i in range(count):
            comfy_adapter.check_interrupt()
            result = swap_model.restore(tensors.to_bgr(images[i]), in_place=True)
            tensors.write_swap(out, masks, i, result)
            bar.update(1)
        return (out,)


def _with_attributes(selection: FaceSelection, gender: str, age: str) -> FaceSelection:
    """The selection with SwapFace's gender and age widgets added."""
    if gender == "any" and not age.strip():
        return selection
    spec = "+".join(
        p for p in (f"gender:{gender}" if gender != "any" else "", f"age:{age}" if age.strip() else "") if p
    )
    try:
        filters = FaceSelection.parse(spec)
    except SettingsError as error:
        raise SettingsError(
            f"target_age {age!r} is not understood: write a range of years such as 20-40."
        ) from error
    return replace(selection, gender=filters.gender, age=filters.age)


def _facemap(
    source_face: SourceFace, face_list: tuple[SourceFace, ...] | None, source_index: str, input_index: str
) -> FaceMap | None:
    """ReActor's index pairs over [source_face, *face_list]; None swaps source_face into every chosen face."""
    if not input_index.strip():
        if face_list:
            raise SettingsError(
                "SwapFace has a face_list connected but input_faces_index is empty: say which faces get "
                "which sources (input_faces_index 0,1 with source_faces_index 1,2), or disconnect face_list."
            )
        return None
    return indexed_facemap([source_face, *(face_list or ())], source_index, input_index)


class MakeFaceList:
    DESCRIPTION = (
        "Collects source faces (Extract Source or Load Face Model outputs) into a list for Swap Face's "
        "face_list, so that each target face gets its own source."
    )
    RETURN_TYPES = (FACE_LIST_TYPE,)
    RETURN_NAMES = ("face_list",)
    OUTPUT_TOOLTIPS = ("The faces in order: face_1 first (chained lists before them).",)
    FUNCTION = "collect"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls) -> InputTypes:
        optional: dict[str, tuple[Any, ...]] = {f"face_{i}": (FACE_TYPE,) for i in range(2, 5)}
        optional["face_list"] = (
            FACE_LIST_TYPE,
            {"tooltip": "A list to extend (chain several of these nodes)."},
        )
        return {"required": {"face_1": (FACE_TYPE,)}, "optional": optional}

    def collect(
        self,
        face_1: SourceFace,
        face_2: SourceFace | None = None,
        face_3: SourceFace | None = None,
        face_4: SourceFace | None = None,
        face_list: tuple[SourceFace, ...] | None = None,
    ) -> tuple[tuple[SourceFace, ...]]:
        faces = (face_1, face_2, face_3, face_4)
        return ((*(face_list or ()), *(f for f in faces if f is not None)),)


def _face_file(name: str) -> str:
    """A plain file name ending in .safetensors, or a message saying what a face model name may be."""
    stem = name.strip().removesuffix(FACE_SUFFIX)
    if not stem or stem in (".", "..") or Path(stem).name != stem or "\\" in stem or stem.startswith("."):
        raise OutputError(
            f"Face model name {name!r} must be a plain file name such as my_face (no folders, not starting "
            f"with a dot): face models are saved in {comfy_adapter.faces_dir()}."
        )
    return stem + FACE_SUFFIX


class SaveFaceModel:
    DESCRIPTION = (
        "Saves a source face as a .safetensors face model, for LoadFaceModel (and the CLI's --face-model)."
    )
    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "save"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls) -> InputTypes:
        return {
            "required": {
                "source_face": (FACE_TYPE,),
                "name": (
                    "STRING",
                    {"default": "my_face", "tooltip": "File name, saved in models/inswapper_live/faces."},
                ),
                "overwrite": (
                    "BOOLEAN",
                    {"default": False, "tooltip": "Replace a face model of the same name."},
                ),
            }
        }

    def save(self, source_face: SourceFace, name: str, overwrite: bool) -> dict[str, dict[str, list[str]]]:
        folder = comfy_adapter.faces_dir()
        path = folder / _face_file(name)
        if path.exists() and not overwrite:
            raise OutputError(
                f"Face model {path} already exists: choose another name or switch overwrite on."
            )
        folder.mkdir(parents=True, exist_ok=True)
        source_face.save(path)
        return {"ui": {"text": [str(path)]}}


class LoadFaceModel:
    DESCRIPTION = "Loads a saved face model (ours, or one saved by ReActor) as a source face."
    RETURN_TYPES = (FACE_TYPE,)
    RETURN_NAMES = ("source_face",)
    FUNCTION = "load"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls) -> InputTypes:
        return {
            "required": {
                "face_model": (
                    comfy_adapter.face_files(),
                    {"tooltip": "From models/inswapper_live/faces (and ReActor's models/reactor/faces)."},
                )
            }
        }

    @classmethod
    def IS_CHANGED(cls, face_model: str) -> str:
        """Load again when the file on disk changed under the same name."""
        path = comfy_adapter.face_path(face_model)
        if path is None:
            return "missing"
        stat = path.stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"

    def load(self, face_model: str) -> tuple[SourceFace]:
        path = comfy_adapter.face_path(face_model)
        if path is None:
            raise InputError(
                f"Face model {face_model!r} is not in {comfy_adapter.faces_dir()} any more: press R to "
                "refresh the list and choose another."
            )
        return (SourceFace.load(path),)


class FaceSimilarity:
    DESCRIPTION = (
        "Cosine similarity of the main (largest) faces of two images, from -1 to 1 (higher is more "
        "alike); a batch counts as the average of its frames' main faces."
    )
    RETURN_TYPES = ("FLOAT",)
    RETURN_NAMES = ("similarity",)
    FUNCTION = "compare"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls) -> InputTypes:
        return {
            "required": {
                "swap_model": (MODEL_TYPE,),
                "image_a": ("IMAGE",),
                "image_b": ("IMAGE",),
            }
        }

    def compare(self, swap_model: Engine, image_a: torch.Tensor, image_b: torch.Tensor) -> tuple[float]:
        a = _analyse(swap_model, image_a, "image_a")
        b = _analyse(swap_model, image_b, "image_b")
        return (cosine(a.embedding, b.embedding),)


class FaceMask:
    DESCRIPTION = (
        "The mask of where SwapFace would change each frame: the face's blend mask with the box, "
        "occlusion, region and mouth masks chosen here (for inpainting or compositing, as ReActor's "
        "mask helper)."
    )
    RETURN_TYPES = ("MASK",)
    RETURN_NAMES = ("face_mask",)
    OUTPUT_TOOLTIPS = ("0..1 per pixel [B,H,W]: 1 where the swap shows fully.",)
    FUNCTION = "mask"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls) -> InputTypes:
        return {
            "required": {
                "swap_model": (MODEL_TYPE,),
                "images": ("IMAGE", {"tooltip": "The image or batch of frames."}),
                "target_faces": (
                    "STRING",
                    {"default": "all", "tooltip": "all, largest, or indices such as 0,2."},
                ),
                "face_order": (list(ORDERS), {"default": "left-right"}),
                **mask_inputs("occlusion,region"),
            }
        }

    def mask(
        self,
        swap_model: Engine,
        images: torch.Tensor,
        target_faces: str,
        face_order: str,
        face_masks: str,
        mask_padding: str,
        mask_blur: float,
        mask_regions: str,
        mouth_from: str,
        occluder: str,
        parser: str,
        landmarker: str,
    ) -> tuple[torch.Tensor]:
        import torch

        tensors.check_images(images, "images")
        masks = mask_settings(
            face_masks, mask_padding, mask_blur, mask_regions, mouth_from, occluder, parser, landmarker
        )
        swap_model.update(faces=_selection(target_faces, face_order, None, 0.0), masks=masks)
        out = []
        for i in range(int(images.shape[0])):
            comfy_adapter.check_interrupt()
            out.append(torch.from_numpy(swap_model.face_mask(tensors.to_bgr(images[i]))))
        return (torch.stack(out),)


NODES: dict[str, tuple[type, str]] = {
    "InswapperLiveLoadSwapModel": (LoadSwapModel, "Load Swap Model (inswapper-live)"),
    "InswapperLiveExtractSource": (ExtractSource, "Extract Source Face (inswapper-live)"),
    "InswapperLiveSwapFace": (SwapFace, "Swap Face (inswapper-live)"),
    "InswapperLiveRestoreFace": (RestoreFace, "Restore Face (inswapper-live)"),
    "InswapperLiveSaveFaceModel": (SaveFaceModel, "Save Face Model (inswapper-live)"),
    "InswapperLiveLoadFaceModel": (LoadFaceModel, "Load Face Model (inswapper-live)"),
    "InswapperLiveFaceSimilarity": (FaceSimilarity, "Face Similarity (inswapper-live)"),
    "InswapperLiveMakeFaceList": (MakeFaceList, "Make Face List (inswapper-live)"),
    "InswapperLiveFaceMask": (FaceMask, "Face Mask (inswapper-live)"),
}
NODE_CLASS_MAPPINGS: dict[str, type] = {node_id: cls for node_id, (cls, _) in NODES.items()}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {node_id: name for node_id, (_, name) in NODES.items()}
