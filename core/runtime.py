"""The one place that creates onnxruntime sessions.

Users' top complaint about face-swap tools is a GPU that silently is not used, so every
session logs the provider that really runs and warns when it is not the one asked for.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import onnxruntime as ort

from .errors import ModelLoadError, SettingsError
from .resolve import repair_hint

log = logging.getLogger(__name__)

PROVIDER_PREFERENCE: tuple[str, ...] = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "ROCMExecutionProvider",
    "MIGraphXExecutionProvider",
    "CoreMLExecutionProvider",
    "DmlExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
)
"""Fastest first; ``auto`` takes the first of these that the installed onnxruntime has."""

PROVIDER_ALIASES: dict[str, str] = {
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "cpu": "CPUExecutionProvider",
}


@dataclass(frozen=True)
class RuntimeSettings:
    """How sessions run: ``provider`` is ``auto``, a short name (``cuda``) or a full provider name."""

    provider: str = "auto"
    threads: int = 0
    """Intra-op threads per session; 0 lets onnxruntime choose (all physical cores)."""


REMOTE_PROVIDERS = frozenset({"AzureExecutionProvider"})
"""Providers that send work to a cloud endpoint instead of running the model here: never offered."""


def available_providers() -> list[str]:
    """The providers of the installed onnxruntime build that run a model on this machine."""
    return [p for p in ort.get_available_providers() if p not in REMOTE_PROVIDERS]


def canonical_provider(name: str) -> str:
    key = name.strip()
    if key.lower() in PROVIDER_ALIASES:
        return PROVIDER_ALIASES[key.lower()]
    if key in PROVIDER_PREFERENCE or key.endswith("ExecutionProvider"):
        return key
    choices = ", ".join(["auto", *PROVIDER_ALIASES])
    raise SettingsError(f"Unknown execution provider {name!r}: choose one of {choices}.")


def provider_chain(provider: str = "auto") -> list[str]:
    """The providers to ask for, in order, always ending with CPU so a session can start."""
    available = available_providers()
    if provider.strip().lower() == "auto":
        chain = [p for p in PROVIDER_PREFERENCE if p in available and p != "CPUExecutionProvider"]
    else:
        wanted = canonical_provider(provider)
        if wanted not in available:
            _warn_unavailable(wanted, tuple(available))
            chain = []
        else:
            chain = [wanted] if wanted != "CPUExecutionProvider" else []
    return [*chain, "CPUExecutionProvider"]


@cache
def _warn_unavailable(wanted: str, available: tuple[str, ...]) -> None:
    """Said once per process: every model of an engine asks for the same provider."""
    log.warning(
        "Execution provider %s is not in this onnxruntime build (it has: %s); using CPU. "
        "Install the matching onnxruntime package (see README, Troubleshooting).",
        wanted,
        ", ".join(available),
    )


GPU_LIBRARY_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


@cache
def preload_gpu_libraries() -> None:
    """Load the CUDA and cuDNN libraries that pip installed (``onnxruntime-gpu[cuda,cudnn]``).

    They live in pip's ``nvidia`` packages, off the system library path; without this the CUDA
    provider fails to load and the session quietly runs on CPU. onnxruntime >= 1.21 has the call.
    """
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    try:
        preload()
    except Exception as error:  # a system-wide CUDA may still work: the session says what runs
        log.debug("onnxruntime.preload_dlls() failed: %s", error)


def create_session(path: Path | str, settings: RuntimeSettings | None = None) -> ort.InferenceSession:
    """Open ``path`` on the best working provider and say which one really runs."""
    settings = settings or RuntimeSettings()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Spinning worker threads would keep a core busy after each run, taking it from the
    # pre- and post-processing that follows on the same frame.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if settings.threads > 0:
        options.intra_op_num_threads = settings.threads
        options.inter_op_num_threads = 1
    chain = provider_chain(settings.provider)
    if any(p in GPU_LIBRARY_PROVIDERS for p in chain):
        preload_gpu_libraries()
    try:
        session = ort.InferenceSession(os.fspath(path), sess_options=options, providers=chain)
    except Exception as first_error:
        if chain == ["CPUExecutionProvider"]:
            raise _load_error(path, first_error) from first_error
        log.warning("Providers %s failed for %s (%s); falling back to CPU.", chain[:-1], path, first_error)
        try:
            session = ort.InferenceSession(
                os.fspath(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as cpu_error:
            raise _load_error(path, cpu_error) from cpu_error
    running = session.get_providers()[0]
    if running != chain[0]:
        log.warning("%s: asked for %s but runs on %s.", Path(path).name, chain[0], running)
    else:
        log.info("%s runs on %s.", Path(path).name, running)
    return session


def _load_error(path: Path | str, error: Exception) -> ModelLoadError:
    return ModelLoadError(
        f"onnxruntime cannot load {path}: {error}. The file may be truncated or corrupt. {repair_hint(path)}"
    )
