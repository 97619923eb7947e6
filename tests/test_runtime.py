"""Execution providers: preference, fallback and the log line naming the one that runs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from inswapper_live.core import runtime
from inswapper_live.core.errors import SettingsError
from inswapper_live.core.runtime import RuntimeSettings, canonical_provider, create_session, provider_chain


def test_auto_prefers_accelerators_and_always_ends_with_cpu(monkeypatch) -> None:
    monkeypatch.setattr(
        runtime,
        "available_providers",
        lambda: ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"],
    )
    assert provider_chain("auto") == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert provider_chain("cuda") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert provider_chain("cpu") == ["CPUExecutionProvider"]


def test_missing_provider_warns_once_and_uses_cpu(monkeypatch, caplog) -> None:
    monkeypatch.setattr(runtime, "available_providers", lambda: ["CPUExecutionProvider"])
    runtime._warn_unavailable.cache_clear()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):  # an engine opens three models
            assert provider_chain("directml") == ["CPUExecutionProvider"]
    assert caplog.text.count("DmlExecutionProvider is not in this onnxruntime build") == 1


def test_aliases_and_unknown_names() -> None:
    assert canonical_provider("TensorRT") == "TensorrtExecutionProvider"
    assert canonical_provider("CoreMLExecutionProvider") == "CoreMLExecutionProvider"
    with pytest.raises(SettingsError, match="Unknown execution provider 'gpu'"):
        canonical_provider("gpu")


def test_session_logs_the_provider_that_really_runs(yunet: Path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="inswapper_live.core.runtime"):
        session = create_session(yunet, RuntimeSettings(provider="cpu", threads=1))
    assert session.get_providers()[0] == "CPUExecutionProvider"
    assert "face_detection_yunet_2026may.onnx runs on CPUExecutionProvider" in caplog.text


def test_asking_for_an_accelerator_that_does_not_run_is_logged(monkeypatch, yunet: Path, caplog) -> None:
    monkeypatch.setattr(
        runtime, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    with caplog.at_level(logging.WARNING), pytest.warns(UserWarning, match="not in available provider"):
        session = create_session(yunet, RuntimeSettings(provider="cuda"))
    assert session.get_providers()[0] == "CPUExecutionProvider"
    assert "asked for CUDAExecutionProvider but runs on CPUExecutionProvider" in caplog.text


def test_gpu_libraries_from_pip_are_preloaded_once_for_cuda(monkeypatch, yunet: Path) -> None:
    calls = []
    monkeypatch.setattr(runtime.ort, "preload_dlls", lambda: calls.append(1), raising=False)
    runtime.preload_gpu_libraries.cache_clear()
    create_session(yunet, RuntimeSettings(provider="cpu"))
    assert calls == [], "a CPU session loads no GPU libraries"
    monkeypatch.setattr(
        runtime, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    with pytest.warns(UserWarning):
        for _ in range(2):
            create_session(yunet, RuntimeSettings(provider="cuda"))
    assert calls == [1]
    runtime.preload_gpu_libraries.cache_clear()


def test_the_cloud_provider_is_never_offered_nor_used(yunet: Path, caplog) -> None:
    """onnxruntime's CPU wheel lists AzureExecutionProvider, a remote endpoint that runs no model here."""
    assert "AzureExecutionProvider" not in runtime.available_providers()
    assert "CPUExecutionProvider" in runtime.available_providers()
    with caplog.at_level(logging.INFO):
        session = create_session(yunet, RuntimeSettings(provider="AzureExecutionProvider", threads=1))
    assert session.get_providers()[0] == "CPUExecutionProvider"
    assert "runs on AzureExecutionProvider" not in caplog.text
    assert "AzureExecutionProvider is not in this onnxruntime build" in caplog.text
