"""Proving an install works: a real swap on a bundled photo, and a tiny model on each provider.

The swap uses the real models that are present and verified. Where the big weights are
missing (no network, as on CI), it uses synthetic stand-ins with the exact swapper and
ArcFace contracts and says so plainly: the pipeline (real detector, alignment, swapper
contract, paste-back, image writing) still runs end to end, but the picture is tinted
rather than face-swapped. The photo is swapped with its own face, so no one's identity is
put on someone else.

Execution providers are probed in a separate process each, because a broken GPU library can
crash the process or only report its reason on stderr.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import synthetic
from ..engine import Engine, EngineSettings
from ..errors import InswapperLiveError
from ..imageio import read_image, write_image
from ..recognize import cosine
from ..resolve import resolve
from ..runtime import PROVIDER_PREFERENCE, RuntimeSettings, create_session
from .env import LOAD_CHECKOUT, PHOTO, REPO

SWAPPERS = ("inswapper_128", "inswapper_128_fp16", "inswapper_512_live", "inswapper_512_live_mini")
RECOGNIZERS = ("w600k_r50",)
DETECTORS = ("det_10g", "det_2_5g", "det_500m", "yunet")


@dataclass(frozen=True)
class Pick:
    """The model used for one role: a verified real file, or a stand-in for ``wanted``."""

    role: str
    wanted: str
    path: Path | None
    stand_in: bool = False

    def describe(self) -> str:
        if self.stand_in:
            return f"STAND-IN for {self.wanted} (synthetic model with its contract, not the real weights)"
        return f"{self.wanted} ({self.path})"


@dataclass
class SelfCheck:
    ok: bool
    lines: list[str] = field(default_factory=list)
    skipped: bool = False
    """No swap could run because a model is missing (already reported as missing, not a failure)."""
    output: Path | None = None
    stand_ins: list[str] = field(default_factory=list)


def first_present(names: tuple[str, ...], models_dir: Path | None) -> tuple[str, Path] | None:
    """The first of ``names`` found and verified, searching as the engine does."""
    for name in names:
        try:
            return name, resolve(name, models_dir, verify=True).path
        except InswapperLiveError:
            continue
    return None


def pick_models(models_dir: Path | None, workdir: Path) -> list[Pick]:
    """Real models where present; stand-ins written to ``workdir`` for a missing swapper or recogniser."""
    picks = []
    found = first_present(SWAPPERS, models_dir)
    if found:
        picks.append(Pick("swapper", found[0], found[1]))
    else:
        path = synthetic.make_swapper(workdir / "stand-in-inswapper_128.onnx", 128)
        picks.append(Pick("swapper", SWAPPERS[0], path, stand_in=True))
    found = first_present(RECOGNIZERS, models_dir)
    if found:
        picks.append(Pick("recognizer", found[0], found[1]))
    else:
        path = synthetic.make_recognizer(workdir / "stand-in-w600k_r50.onnx")
        picks.append(Pick("recognizer", RECOGNIZERS[0], path, stand_in=True))
    found = first_present(DETECTORS, models_dir)
    picks.append(Pick("detector", found[0] if found else DETECTORS[0], found[1] if found else None))
    return picks


def run_selfcheck(models_dir: Path | None, output: Path, provider: str = "auto") -> SelfCheck:
    """Swap the bundled photo's face with itself and check what changed; write the result to ``output``."""
    with tempfile.TemporaryDirectory(prefix="inswapper-live-selfcheck-", ignore_cleanup_errors=True) as tmp:
        picks = {p.role: p for p in pick_models(models_dir, Path(tmp))}
        check = SelfCheck(ok=False, stand_ins=[p.wanted for p in picks.values() if p.stand_in])
        detector = picks["detector"]
        if detector.path is None:
            check.lines.append(
                "No face detector is present (det_10g, det_2.5g, det_500m or yunet), so no swap could run. "
                "Get one of the missing files listed above, or run with --from FOLDER."
            )
            check.skipped = True
            return check
        try:
            _swap(check, picks, models_dir, output, provider)
        except InswapperLiveError as error:
            check.ok = False
            check.lines.append(f"FAILED: {error}")
        return check


def _swap(
    check: SelfCheck, picks: dict[str, Pick], models_dir: Path | None, output: Path, provider: str
) -> None:
    settings = EngineSettings(
        swapper=str(picks["swapper"].path),
        recognizer=str(picks["recognizer"].path),
        detector=str(picks["detector"].path),
        models_dir=str(models_dir) if models_dir else None,
        provider=provider,
    )
    t0 = time.perf_counter()
    engine = Engine(settings)
    photo = read_image(PHOTO)
    t1 = time.perf_counter()
    source = engine.analyse_source([photo.bgr], [PHOTO.name])
    engine.set_source(source)
    t2 = time.perf_counter()
    result = engine.swap(photo.bgr)
    t3 = time.perf_counter()
    h, w = photo.bgr.shape[:2]
    runs_on = {
        "detector": engine.detector.session.get_providers()[0],  # type: ignore[attr-defined]
        "recognizer": engine.recognizer().session.get_providers()[0],
        "swapper": engine.swapper.session.get_providers()[0],
    }
    check.lines.append(f"photo       {PHOTO} ({w}x{h}), swapped with its own face")
    for role in ("detector", "recognizer", "swapper"):
        check.lines.append(f"{role:11} {picks[role].describe()} on {runs_on[role]}")
    check.lines.append(
        f"timing      load {1000 * (t1 - t0):.0f} ms, source analysis {1000 * (t2 - t1):.0f} ms, "
        f"swap {1000 * (t3 - t2):.0f} ms"
    )
    if not result.faces:
        check.lines.append(f"FAILED: the detector found no face in {PHOTO.name}.")
        return
    changed = np.any(result.frame != photo.bgr, axis=2)
    inside = result.mask() > 0
    outside = int(np.count_nonzero(changed & ~inside))
    check.lines.append(
        f"faces       {len(result.faces)} found, {len(result.swapped)} swapped; "
        f"{int(np.count_nonzero(changed & inside))} pixels changed inside the face region, {outside} outside"
    )
    if not picks["swapper"].stand_in and not picks["recognizer"].stand_in:
        again = engine.largest_face(result.frame, "the swapped photo").embedding
        if again is not None:
            check.lines.append(
                f"identity    cosine similarity of the swapped face to the source: "
                f"{cosine(source.embedding, again):.3f}"
            )
    output.parent.mkdir(parents=True, exist_ok=True)
    write_image(output, result.frame)
    check.output = output
    check.ok = bool(result.swapped) and bool(np.any(changed)) and outside == 0
    if not check.ok:
        check.lines.append("FAILED: the swap did not change the face, or changed pixels outside it.")


# ---------------------------------------------------------------- providers


@dataclass(frozen=True)
class ProviderProbe:
    provider: str
    works: bool
    detail: str


_PROBE = LOAD_CHECKOUT + (
    "import json\n"
    "from inswapper_live.core.install.selfcheck import probe_here\n"
    "print(json.dumps(probe_here(sys.argv[2], sys.argv[3])))\n"
)
_LIST = (
    "import json, onnxruntime as ort\n"
    "print(json.dumps({'version': ort.__version__, 'providers': ort.get_available_providers()}))\n"
)


def probe_here(model: str, provider: str) -> dict[str, object]:
    """Run ``model`` on ``provider`` in this process and compare with CPU (used by :func:`probe_providers`)."""
    session = create_session(model, RuntimeSettings(provider=provider, threads=1))
    name = session.get_inputs()[0].name
    shape = [d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape]
    x = np.linspace(0.0, 1.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    y = session.run(None, {name: x})[0]
    cpu = create_session(model, RuntimeSettings(provider="cpu", threads=1))
    reference = cpu.run(None, {name: x})[0]
    return {"running": session.get_providers()[0], "diff": float(np.abs(y - reference).max())}


def onnxruntime_in(python: Path | str) -> tuple[str, list[str]]:
    """The onnxruntime version and the providers its build offers, as ``python`` sees them."""
    done = subprocess.run([str(python), "-c", _LIST], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise InswapperLiveError(f"onnxruntime does not import in {python}: {_last_error(done.stderr)}")
    info = json.loads(done.stdout)
    return info["version"], info["providers"]


def probe_providers(python: Path | str = sys.executable, timeout: float = 300) -> list[ProviderProbe]:
    """Which execution providers really run a model, each tried in its own process."""
    _, available = onnxruntime_in(python)
    probes = []
    with tempfile.TemporaryDirectory(prefix="inswapper-live-probe-", ignore_cleanup_errors=True) as tmp:
        model = synthetic.make_recognizer(Path(tmp) / "probe.onnx")
        for provider in [p for p in PROVIDER_PREFERENCE if p in available]:
            try:
                done = subprocess.run(
                    [str(python), "-c", _PROBE, str(REPO), str(model), provider],
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                probes.append(ProviderProbe(provider, False, f"no answer within {timeout:.0f} s"))
                continue
            if done.returncode != 0:
                probes.append(
                    ProviderProbe(provider, False, _last_error(done.stderr) or f"exit {done.returncode}")
                )
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if result["running"] != provider:
                reason = _last_error(done.stderr) or "the session fell back to CPU"
                probes.append(ProviderProbe(provider, False, f"runs on {result['running']}: {reason}"))
            elif result["diff"] > 1e-2:
                probes.append(
                    ProviderProbe(provider, False, f"wrong results (max difference {result['diff']:.3g})")
                )
            else:
                probes.append(
                    ProviderProbe(
                        provider, True, f"ran the test model (max difference to CPU {result['diff']:.1g})"
                    )
                )
    return probes


def _last_error(stderr: str) -> str:
    """The most telling line of a failed run's stderr (an error line, else the last line)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stderr)  # onnxruntime colours its log lines
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    for line in reversed(lines):
        if any(word in line for word in ("Error", "error", "Failed", "failed", "cannot", "not found")):
            return line
    return lines[-1] if lines else ""
