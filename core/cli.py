"""The ``inswapper-live`` command: swap images and videos, build face models, manage models."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .engine import Engine, EngineSettings
from .errors import InswapperLiveError, NoFaceError, SettingsError
from .imageio import check_writable, read_image, write_image
from .manifest import load_manifest
from .masks import MASK_TYPES, MOUTH_SOURCES, MaskSettings, parse_list, parse_padding
from .resolve import resolve, search_dirs
from .runtime import available_providers
from .select import FaceSelection
from .source import SourceFace
from .video import is_video, process_video

log = logging.getLogger("inswapper_live")


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    d = EngineSettings()
    p.add_argument("--swapper", default=d.swapper, help="swapper model name or path (default %(default)s)")
    p.add_argument(
        "--detector", default=d.detector, help="detector name or path: det_10g, det_2.5g, det_500m, yunet"
    )
    p.add_argument(
        "--recognizer", default=d.recognizer, help="ArcFace model name or path (default %(default)s)"
    )
    p.add_argument("--models-dir", help="folder searched first for models")
    p.add_argument(
        "--provider", default="auto", help="auto, cpu, cuda, tensorrt, coreml, directml, rocm, openvino"
    )
    p.add_argument("--threads", type=int, default=0, help="CPU threads per model (0: all cores)")
    p.add_argument(
        "--det-size", type=int, default=d.det_size, help="detector input size (default %(default)s)"
    )
    p.add_argument("--det-thresh", type=float, default=d.det_thresh, help="detection score threshold")
    p.add_argument("--max-faces", type=int, default=0, help="keep only the N largest faces (0: all)")


def _add_mask_options(p: argparse.ArgumentParser) -> None:
    d = MaskSettings()
    g = p.add_argument_group("masks (where the swap shows; combined as their minimum)")
    g.add_argument(
        "--mask", default="", help=f"comma list of {', '.join(MASK_TYPES)} (default: the reference mask)"
    )
    g.add_argument("--mask-padding", default="0", help="box mask: top,right,bottom,left in %% of the crop")
    g.add_argument(
        "--mask-blur", type=float, default=d.blur, help="box mask edge blur 0..1 (default %(default)s)"
    )
    g.add_argument(
        "--mask-regions", default=",".join(d.regions), help="region mask: parser classes the swap covers"
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
    parser = argparse.ArgumentParser(prog="inswapper-live", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log each model load and provider")
    sub = parser.add_subparsers(dest="command", required=True)

    swap = sub.add_parser("swap", help="swap faces in an image or a video")
    src = swap.add_mutually_exclusive_group(required=True)
    src.add_argument("--source", action="append", type=Path, help="source image (repeat to average several)")
    src.add_argument("--face-model", type=Path, help="saved face model (.safetensors or .npz)")
    swap.add_argument("--target", required=True, type=Path, help="image or video to change")
    swap.add_argument("--output", required=True, type=Path, help="where to write the result")
    swap.add_argument("--faces", default="all", help="all | largest | index:0,2 | similar:0.6 (default all)")
    swap.add_argument("--reference", type=Path, help="image of the face to match for --faces similar:X")
    swap.add_argument(
        "--pixel-boost", type=int, default=0, choices=(0, 256, 384, 512), help="crop size for 128 models"
    )
    swap.add_argument("--blend", type=float, default=1.0, help="swap strength 0..1 (default 1)")
    swap.add_argument(
        "--detail",
        type=float,
        default=EngineSettings.detail,
        help="share of the target's fine detail kept, finer than the swapper's crop (0: reference recipe)",
    )
    _add_engine_options(swap)
    _add_mask_options(swap)

    face = sub.add_parser("face", help="build a face model from source images")
    face.add_argument("--source", action="append", type=Path, required=True, help="source image (repeatable)")
    face.add_argument("--output", required=True, type=Path, help="face model file (.safetensors or .npz)")
    _add_engine_options(face)

    sub.add_parser("bench", help="benchmark stages, overhead and throughput (see --help)", add_help=False)

    models = sub.add_parser("models", help="list or verify model files")
    models.add_argument("action", choices=("list", "verify"))
    models.add_argument("names", nargs="*", help="models to verify (default: all found)")
    models.add_argument("--models-dir", help="folder searched first for models")
    return parser


def _settings(args: argparse.Namespace, **extra: object) -> EngineSettings:
    return EngineSettings(
        swapper=args.swapper,
        detector=args.detector,
        recognizer=args.recognizer,
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
    if not args.target.is_file():
        raise InswapperLiveError(f"Target {args.target} does not exist.")
    engine = Engine(
        _settings(
            args,
            faces=selection,
            pixel_boost=args.pixel_boost,
            blend=args.blend,
            detail=args.detail,
            masks=_mask_settings(args),
        )
    )
    source = SourceFace.load(args.face_model) if args.face_model else _source(engine, args.source)
    engine.set_source(source)
    if args.reference is not None:
        engine.set_reference(
            engine.largest_face(read_image(args.reference).bgr, str(args.reference)).embedding
        )
    if is_video(args.target):
        frames_without_face = 0

        def swap_frame(frame):
            nonlocal frames_without_face
            result = engine.swap(frame)
            frames_without_face += not result.swapped
            return result.frame

        progress = _Progress(args.target.name)
        report = process_video(args.target, args.output, swap_frame, progress)
        progress.close()
        log.info("Wrote %s: %d frames, audio %s.", args.output, report.frames, report.audio)
        if frames_without_face:
            log.warning(
                "%d of %d frames had no face to swap; they are unchanged.", frames_without_face, report.frames
            )
        return 0
    image = read_image(args.target)
    result = engine.swap(image.bgr)
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
    engine = Engine(_settings(args))
    source = _source(engine, args.source)
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
            print(f"ok       {name}: {found.path}")
        except InswapperLiveError as error:
            missing = "was not found" in str(error)
            if args.names or not missing:
                failures += 1
                print(f"FAILED   {name}: {error}")
            else:
                print(f"missing  {name}")
    return 1 if failures else 0


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
        return handlers[args.command](args)
    except InswapperLiveError as error:
        log.error("%s", error)
        return 1
    except Exception as error:  # a bug, not a user error: say so, keep the trace for the report
        log.error(
            "Unexpected error: %s. Please report it with the output of -v.", error, exc_info=args.verbose
        )
        return 1
    except KeyboardInterrupt:
        log.error("Interrupted; nothing half-written was left behind.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
