"""Choosing the onnxruntime build and the package list: the GPU build only where a GPU works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inswapper_live import __version__
from inswapper_live.core.install import env as install_env
from inswapper_live.core.install.env import (
    Gpu,
    GpuProbe,
    choose_onnxruntime,
    conflicting_onnxruntimes,
    editable_from,
    installed_distributions,
    onnxruntime_minimum,
    probe_nvidia,
    project_requirements,
    requirement_name,
    unsatisfied,
    with_onnxruntime,
)

H200 = GpuProbe((Gpu("NVIDIA H200", "580.65", (13, 0)),), "NVIDIA H200 (driver 580.65, CUDA 13.0)")
T4 = GpuProbe((Gpu("Tesla T4", "535.104", (12, 2)),), "Tesla T4 (driver 535.104, CUDA 12.2)")
K80 = GpuProbe((Gpu("Tesla K80", "470.82", (11, 4)),), "Tesla K80 (driver 470.82, CUDA 11.4)")
NONE = GpuProbe((), "no NVIDIA GPU: nvidia-smi is not installed")


def test_the_gpu_build_only_where_a_working_gpu_is_found() -> None:
    gpu = choose_onnxruntime("auto", H200, "Linux", "x86_64", ">=1.16")
    assert gpu.package == "onnxruntime-gpu"
    assert gpu.requirement == "onnxruntime-gpu[cuda,cudnn]>=1.16"
    assert "NVIDIA H200" in gpu.reason
    cpu = choose_onnxruntime("auto", NONE, "Linux", "x86_64", ">=1.16")
    assert (cpu.package, cpu.requirement) == ("onnxruntime", "onnxruntime>=1.16")
    assert "nvidia-smi is not installed" in cpu.reason
    windows = choose_onnxruntime("auto", H200, "Windows", "AMD64")
    assert windows.package == "onnxruntime-gpu"


def test_the_cuda_12_build_for_a_cuda_12_driver_and_cpu_for_older_ones() -> None:
    t4 = choose_onnxruntime("auto", T4, "Linux", "x86_64", ">=1.16")
    assert t4.requirement == "onnxruntime-gpu[cuda,cudnn]>=1.16,>=1.19,<1.27"
    k80 = choose_onnxruntime("auto", K80, "Windows", "AMD64", ">=1.16")
    assert k80.package == "onnxruntime"
    assert "supports only CUDA 11.4" in k80.reason and "update the NVIDIA driver" in k80.reason
    assert "--onnxruntime directml" in k80.reason


def test_macos_and_arm_linux_get_the_standard_build() -> None:
    mac = choose_onnxruntime("auto", H200, "Darwin", "arm64")
    assert mac.package == "onnxruntime" and "CoreML" in mac.reason
    arm = choose_onnxruntime("auto", H200, "Linux", "aarch64")
    assert arm.package == "onnxruntime" and "no wheels for aarch64" in arm.reason


def test_explicit_choices_win() -> None:
    assert choose_onnxruntime("cpu", H200, "Linux", "x86_64").package == "onnxruntime"
    assert choose_onnxruntime("cuda", NONE, "Linux", "x86_64").package == "onnxruntime-gpu"
    assert choose_onnxruntime("directml", NONE, "Windows", "AMD64").package == "onnxruntime-directml"
    with pytest.raises(ValueError, match="choose one of"):
        choose_onnxruntime("tpu", NONE, "Linux", "x86_64")


def _fake_smi(query: str, header: str = "", rc: int = 0):
    def run(command, **_):
        out = query if "--query-gpu=name,driver_version" in command else header
        return subprocess.CompletedProcess(command, rc, out, "NVIDIA-SMI has failed: driver not loaded\n")

    return run


def test_nvidia_smi_output_is_read(monkeypatch) -> None:
    monkeypatch.setattr(install_env.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    header = "| NVIDIA-SMI 580.65.06   Driver Version: 580.65.06   CUDA Version: 13.0 |\n"
    probe = probe_nvidia(_fake_smi("NVIDIA H200, 580.65.06\nNVIDIA H200, 580.65.06\n", header))
    assert [g.name for g in probe.gpus] == ["NVIDIA H200", "NVIDIA H200"]
    assert probe.gpus[0].cuda == (13, 0) and probe.gpus[0].driver == "580.65.06"
    broken = probe_nvidia(_fake_smi("", rc=9))
    assert broken.gpus == () and "driver not loaded" in broken.note
    monkeypatch.setattr(install_env.shutil, "which", lambda name: None)
    assert "not installed" in probe_nvidia().note


def test_requirements_swap_in_the_chosen_build() -> None:
    base = project_requirements()
    assert "onnxruntime" in [requirement_name(r) for r in base]
    assert onnxruntime_minimum(base).startswith(">=")
    gpu = choose_onnxruntime("auto", H200, "Linux", "x86_64", onnxruntime_minimum(base))
    swapped = with_onnxruntime(base, gpu)
    names = [requirement_name(r) for r in swapped]
    assert "onnxruntime" not in names and names.count("onnxruntime-gpu") == 1
    assert len(swapped) == len(base)
    assert "onnxruntime" not in [requirement_name(r) for r in with_onnxruntime(base, None)]
    dev = project_requirements(["test"])
    assert "pytest" in [requirement_name(r) for r in dev]
    assert requirement_name("Opencv_Python.Headless[extra] >= 4") == "opencv-python-headless"


def test_two_onnxruntime_builds_are_a_conflict() -> None:
    both = {"onnxruntime": "1.32.0", "onnxruntime-gpu": "1.31.1", "numpy": "2.0"}
    assert conflicting_onnxruntimes(both, "onnxruntime-gpu") == ["onnxruntime"]
    assert conflicting_onnxruntimes(both, None) == ["onnxruntime-gpu"]
    assert conflicting_onnxruntimes({"onnxruntime": "1"}, "onnxruntime") == []


def test_installed_distributions_of_a_real_interpreter() -> None:
    found = installed_distributions(Path(sys.executable))
    assert "numpy" in found and "onnxruntime" in found and "inswapper-live" in found


def test_requirements_already_met_need_no_pip() -> None:
    assert unsatisfied(["numpy>=1.24", "onnxruntime>=1.16"]) == []
    assert unsatisfied(["numpy>=99", "no-such-package-here", "onnxruntime-gpu[cuda]>=1"]) == [
        "numpy>=99",
        "no-such-package-here",
        "onnxruntime-gpu[cuda]>=1",
    ]


def test_the_editable_install_of_this_checkout_is_recognised(tmp_path: Path) -> None:
    assert editable_from(install_env.REPO, __version__)
    assert not editable_from(tmp_path, __version__)
    assert not editable_from(install_env.REPO, "0.0.0")


def test_requirements_are_checked_against_another_interpreters_packages() -> None:
    """ComfyUI's Python, listed by installed_distributions: its own versions count, not this one's."""
    theirs = {"numpy": "1.26.4", "opencv-python-headless": "4.8.0.76", "onnxruntime-gpu": "1.31.1"}
    assert unsatisfied(["numpy>=1.24", "Opencv_Python_Headless>=4.8", "pillow>=10"], theirs) == ["pillow>=10"]
    assert unsatisfied(["numpy>=2"], theirs) == ["numpy>=2"]
    assert unsatisfied(["onnxruntime>=1.16"], theirs) == ["onnxruntime>=1.16"]
