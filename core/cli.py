"""The ``inswapper-live`` command: swap images and videos, build face models, manage models."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from .carry import CarrySettings
from .engine import Engine, EngineSettings, SwapResult
from .errors import InputError, InswapperLiveError, ModelLoadError, NoFaceError, SettingsError
from .imageio import check_writable, read_image, refuse_overwriting_inputs, write_image
from .live import LiveSession, LiveSettings, SteadyVideo
from .manifest import load_manifest
from .mapping import build_facemap
from .masks import MASK_TYPES, MOUTH_SOURCES, MaskSettings, parse_list, parse_padding
from .resolve import resolve, search_dirs
from .restore import RESTORERS, RestoreSettings
from .runtime import RuntimeSettings, available_providers, create_session
from .select import FaceSelection
from .signals import Terminated, terminate_as_interrupt
from .source import SourceFace
from .video import is_video, process_video

log = logging.getLogger("inswapper_live")
DESCRIPTION = "Swap faces in images and videos, build face models, list and check model files."


def _version() -> str:
    try:
        return metadata.version("inswapper-live")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _verbose_option() -> argparse.ArgumentParser:
    """``-v`` for every subcommand too; SUPPRESS keeps a ``-v`` given before the subcommand."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log each model load and provider",
    )
    return parent


def _add_engine_options(p: argparse.ArgumentParser, swapper: bool = True) -> None:
    d = EngineSettings()
    if swapper:
        p.add_argument(
            "--swapper", default=d.swapper, help="swapper model name or path (default %(default)s)"
        )
    p.add_argument(
        "--detector",
        default=d.detector,
        help="detector name or path: det_10g, det_2.5g, det_500m, yunet (default %(default)s)",
    )
    p.add_argument(
        "--recognizer", default=d.recognizer, help="ArcFace model name or path (default %(default)s)"
    )
    p.add_argument("--models-dir", help="folder searched first for models")
    p.add_argument(
        "--genderage", default=d.genderage, help="gender and age model for --faces gender:/age: (buffalo_l's; default %(default)s)"
    )
    p.add_argument(
        "--provider",
        default="auto",
        help="auto, cpu, cuda, tensorrt, coreml, directml, rocm, openvino (default %(default)s)",
    )
    p.add_argument("--threads", type=int, default=0, help="CPU threads per model; 0: all cores (default 0)")
    p.add_argument(
        "--det-size", type=int, default=d.det_size, help="detector input size (default %(default)s)"
    )
    p.add_argument(
        "--det-thresh",
        type=float,
        default=d.det_thresh,
        help="detection score threshold (default %(default)s)",
    )
    p.add_argument(
        "--max-faces", type=int, default=0, help="keep only the N largest faces; 0: all (default 0)"
    )


def _add_mask_options(p: argparse.ArgumentParser) -> None:
    d = MaskSettings()
    g = p.add_argument_group("masks (where the swap shows; combined as their minimum)")
    g.add_argument(
        "--mask", default="", help=f"comma list of {', '.join(MASK_TYPES)} (default: the reference mask)"
    )
    g.add_argument("--mask-padding", default="0", help="box mask: top,right,bottom,left in %% of the crop (default %(default)s)")
    g.add_argument(
        "--mask-blur", type=float, default=d.blur, help="box mask edge blur 0..1 (default %(default)s)"
    )
    g.add_argument(
        "--mask-regions", default=",".join(d.regions), help="region mask: parser classes the swap covers (default %(default)s)"
    )
    g.add_argument(
        "--occluder", default=d.occluder, help="occlusion model name or path (default %(default)s)"
    )
    g.add_argument("--parser", default=d.parser, help="face parser name or path (default %(default)s)")
    g.add_argument(
        "--mouth-from",
        default=d.mouth_from,
        choices=MOUTH_SOURCES,
        help="mouth mask source (default %(default)s)",
    )
    g.add_argument(
        "--landmarker", default=d.landmarker, help="106-point landmark model (default %(default)s)"
    )


def _mask_settings(args: argparse.Namespace) -> MaskSettings:
    return MaskSettings(
        types=parse_list(args.mask, "--mask"),
        padding=parse_padding(args.mask_padding),
        blur=args.mask_blur,
        regions=parse_list(args.mask_regions, "--mask-regions"),
        occluder=args.occluder,
        parser=args.parser,
        mouth_from=args.mouth_from,
        landmarker=args.landmarker,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inswapper-live", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true", help="log each model load and provider")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    verbose = _verbose_option()

    swap = sub.add_parser("swap", help="swap faces in an image or a video", parents=[verbose])
    src = swap.add_mutually_exclusive_group()
    src.add_argument("--source", action="append", type=Path, help="source image (repeat to average several)")
    src.add_argument("--face-model", type=Path, help="saved face model (.safetensors or .npz)")
    swap.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="TARGET=SOURCE",
        help="give one face its own source (repeatable): INDEX=SOURCE counts faces in the --faces order "
        "from 0, REF.jpg=SOURCE takes faces like REF's; SOURCE is an image or a face model. Faces no "
        "--map takes keep their look unless --source or --face-model is also given",
    )
    swap.add_argument("--target", required=True, type=Path, help="image or video to change")
    swap.add_argument("--output", required=True, type=Path, help="where to write the result")
    swap.add_argument(
        "--faces",
        default="all",
        help="all | largest | index:0,2 | similar:0.6, and gender:female|male, age:20-40 alone or joined "
        "with + (largest+gender:female) (default all)",
    )
    swap.add_argument("--reference", type=Path, help="image of the face to match for --faces similar:X")
    swap.add_argument(
        "--pixel-boost",
        type=int,
        default=0,
        choices=(0, 256, 384, 512),
        help="crop size for 128 models; 0: the model's own (default %(default)s)",
    )
    swap.add_argument("--blend", type=float, default=1.0, help="swap strength 0..1 (default %(default)s)")
    swap.add_argument(
        "--detail",
        type=float,
        default=EngineSettings.detail,
        help="share of the target's fine detail kept, finer than the swapper's crop; 0: the reference "
        "recipe (default %(default)s)",
    )
    _add_restore_options(swap)
    _add_engine_options(swap)
    _add_mask_options(swap)

    face = sub.add_parser("face", help="build a face model from source images", parents=[verbose])
    face.add_argument("--source", action="append", type=Path, required=True, help="source image (repeatable)")
    face.add_argument("--output", required=True, type=Path, help="face model file (.safetensors or .npz)")
    _add_engine_options(face, swapper=False)

    sub.add_parser("bench", help="benchmark stages, overhead and throughput (see --help)", add_help=False)

    models = sub.add_parser("models", help="list or verify model files", parents=[verbose])
    models.add_argument(
        "action", nargs="?", default="list", choices=("list", "verify"), help="what to do (default list)"
    )
    models.add_argument(
        "names", nargs="*", metavar="NAME_OR_PATH", help="models to verify (default: every one found)"
    )
    models.add_argument("--models-dir", help="folder searched first for models")
    return parser


def _add_restore_options(p: argparse.ArgumentParser) -> None:
    d = RestoreSettings()
    p.add_argument(
        "--restore",
        default="",
        metavar="|".join(RESTORERS) + "|PATH",
        help="restore each swapped face with this model before pasting it back (off by default; "
        "install it with `python install.py --model NAME`)",
    )
    p.add_argument(
        "--restore-blend",
        type=float,
        default=d.blend,
        help="how much of the restored face is used, 0..1 (default %(default)s; 0 is no restoration)",
    )
    p.add_argument(
        "--codeformer-fidelity",
        type=float,
        default=d.fidelity,
        help="CodeFormer's weight w, 0..1: lower restores more, higher stays closer (default %(default)s)",
    )


def _restore_settings(args: argparse.Namespace) -> RestoreSettings:
    return RestoreSettings(args.restore, args.restore_blend, args.codeformer_fidelity)


def _settings(args: argparse.Namespace, **extra: object) -> EngineSettings:
    return EngineSettings(
        swapper=getattr(args, "swapper", ""),
        detector=args.detector,
        recognizer=args.recognizer,
        genderage=args.genderage,
        models_dir=args.models_dir,
        provider=args.provider,
        threads=args.threads,
        det_size=args.det_size,
        det_thresh=args.det_thresh,
        max_faces=args.max_faces,
        **extra,  # type: ignore[arg-type]
    )


def _source(engine: Engine, paths: Sequence[Path]) -> SourceFace:
    images = [read_image(p).bgr for p in paths]
    return engine.analyse_source(images, [str(p) for p in paths])


class _Progress:
    """A one-line progress bar on a terminal (redrawn 10 times a second), a line every 5 s elsewhere."""

    def __init__(self, label: str) -> None:
        self.label, self.start, self.last = label, time.monotonic(), 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last < (0.1 if self.tty else 5.0) and done != total:
            return
        self.last = now
        fps = done / max(now - self.start, 1e-6)
        if total:
            filled = int(30 * done / total)
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {done}/{total}"
        else:
            bar = f"{done} frames"
        line = f"{self.label} {bar} {fps:.1f} fps"
        sys.stderr.write("\r" + line if self.tty else line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def cmd_swap(args: argparse.Namespace) -> int:
    selection = FaceSelection.parse(args.faces)
    if selection.mode == "similar" and args.reference is None:
        raise SettingsError("--faces similar:X needs --reference IMAGE: the face to look for in the target.")
    check_writable(args.output)
    if args.target.is_dir():
        raise InputError(f"Target {args.target} is a folder; give one image or video file.")
    if not args.target.is_file():
        raise InputError(f"Target {args.target} does not exist.")
    inputs = [("--target", args.target), ("--face-model", args.face_model), ("--reference", args.reference)]
    refuse_overwriting_inputs(args.output, inputs + [("--source", p) for p in args.source or []])
    engine = Engine(
        _settings(
            args,
            faces=selection,
            pixel_boost=args.pixel_boost,
            blend=args.blend,
            detail=args.detail,
            restore=_restore_settings(args),
            masks=_mask_settings(args),
        )
    )
    if args.face_model:
        source = SourceFace.load(args.face_model)
    elif args.source:
        source = _source(engine, args.source)
    elif args.map:
        source = None
    else:
        raise SettingsError(
            "swap needs a source: give --source IMAGE, --face-model FILE or --map TARGET=SOURCE."
        )
    if args.map:
        engine.set_facemap(build_facemap(engine, args.map, source))
    else:
        engine.set_source(source)
    if args.reference is not None:
        engine.set_reference(
            engine.largest_face(read_image(args.reference).bgr, str(args.reference)).embedding
        )
    if is_video(args.target):
        frames_without_face = 0
        frames_unmatched: Counter[str] = Counter()

        def count(result: SwapResult) -> None:
            nonlocal frames_without_face
            frames_without_face += not result.swapped
            frames_unmatched.update(result.unmatched)

        # A live session tracks the faces (steady choices, a face map that follows its person)
        # and swaps each frame with landmarks refined by the next one.
        session = LiveSession(engine, LiveSettings(carry=CarrySettings(enabled=False)))
        progress = _Progress(args.target.name)
        report = process_video(args.target, args.output, SteadyVideo(session, count), progress)
        progress.close()
        log.info("Wrote %s: %d frames, audio %s.", args.output, report.frames, report.audio)
        if frames_without_face:
            log.warning(
                "%d of %d frames had no face to swap; they are unchanged.", frames_without_face, report.frames
            )
        for label, count in frames_unmatched.items():
            log.warning("%s found no face in %d of %d frames.", label, count, report.frames)
        return 0
    image = read_image(args.target)
    result = engine.swap(image.bgr)
    if result.conflicts:
        raise SettingsError(
            f"{'; '.join(result.conflicts)} in {args.target}: the same face is mapped twice. Map it once. "
            "Nothing was written."
        )
    if result.unmatched:
        raise SettingsError(
            f"{'; '.join(result.unmatched)}: no such face in {args.target}, which has {len(result.faces)} "
            f"faces (indices count the faces --faces {selection} keeps, {selection.order}, from 0; a "
            "reference photo needs a face like its own). Nothing was written."
        )
    if not result.swapped:
        what = (
            "no face"
            if not result.faces
            else f"{len(result.faces)} faces, none selected by --faces {selection}"
        )
        raise NoFaceError(f"Found {what} in {args.target}; nothing was written.")
    write_image(args.output, image.restore(result.frame))
    log.info("Swapped %d of %d faces; wrote %s.", len(result.swapped), len(result.faces), args.output)
    return 0


def cmd_face(args: argparse.Namespace) -> int:
    check_writable(args.output)
    refuse_overwriting_inputs(args.output, [("--source", p) for p in args.source])
    engine = Engine(_settings(args))  # no swapper: only detection and recognition run
    source = _source(engine, args.source)
    # The file is shared with others: it names the photos, not the folders they are in.
    names = ", ".join(p.name for p in args.source)
    source = replace(source, metadata={**source.metadata, "images": names})
    source.save(args.output)
    log.info("Wrote face model %s from %d image(s).", args.output, source.count)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    manifest = load_manifest()
    if args.action == "list":
        print(f"Search folders: {', '.join(str(d) for d in search_dirs(args.models_dir))}")
        print(f"Execution providers available: {', '.join(available_providers())}")
        for entry in manifest.models.values():
            try:
                where = str(resolve(entry.name, args.models_dir, verify=False).path)
            except InswapperLiveError:
                where = "not installed" + (" (supply your licensed file)" if entry.user_supplied else "")
            print(f"{entry.name:26} {entry.kind:10} {where}\n{'':26} {entry.licence}")
        return 0
    names = args.names or list(manifest.models)
    failures = 0
    for name in names:
        try:
            found = resolve(name, args.models_dir, verify=True)
            if found.entry is None or not found.entry.versions:  # no checksum: see that onnxruntime opens it
                _check_loads(found.path)
            print(f"ok       {name}: {found.path}")
        except InswapperLiveError as error:
            missing = "was not found" in str(error)
            if args.names or not missing:
                failures += 1
                print(f"FAILED   {name}: {error}")
            else:
                print(f"missing  {name}")
    return 1 if failures else 0


def _check_loads(path: Path) -> None:
    """Raise ModelLoadError unless onnxruntime opens ``path`` (a truncated file fails here)."""
    if path.suffix.lower() != ".onnx":
        raise ModelLoadError(f"{path} is not an .onnx file; give an ONNX model.")
    create_session(path, RuntimeSettings(provider="cpu", threads=1))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from .bench import run

        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
        try:
            return run(argv[1:])
        except InswapperLiveError as error:
            log.error("%s", error)
            return 1
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(message)s",
    )
    if args.command != "models":
        log.setLevel(logging.INFO)
    handlers = {"swap": cmd_swap, "face": cmd_face, "models": cmd_models}
    try:
        with terminate_as_interrupt():
            return handlers[args.command](args)
    except InswapperLiveError as error:
        log.error("%s", error)
        return 1
    except Exception as error:  # a bug, not a user error: say so, keep the trace for the report
        log.error(
            "Unexpected error: %s. Please report it with the output of -v.", error, exc_info=args.verbose
        )
        return 1
    except KeyboardInterrupt as stop:
        why = f"Stopped by {stop}" if isinstance(stop, Terminated) else "Interrupted"
        log.error("%s; nothing half-written was left behind.", why)
        return stop.exit_code if isinstance(stop, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
