#!/usr/bin/env bash
# GPU check for the live engine on a lent NVIDIA machine (no network there): do the device
# graphs land on CUDA, and the bench tables with the device frame path off and on.
#
#   tests/gpu_check.sh prepare   # here, once: onnxruntime-gpu in parts (.gpu/), data (.gpudata/)
#   tests/gpu_check.sh run       # there, in the last of the five device calls below
#
# onnxruntime-gpu is far over the 64 MiB a device call carries, so ../shared/tools/gpu-parts.sh
# splits what CUDA needs into parts of ~37 MB. Its header's sequence, back to back (a machine
# stays warm only ~30 s between calls; about 2 minutes of device time for the parts):
#   1: carry [".gpu/cuda.part0", ".gpu/rest.tar.xz"]   mkdir -p /tmp/p && cp .gpu/* /tmp/p/
#   2..4: carry [".gpu/cuda.partN"]                     cp .gpu/cuda.partN /tmp/p/
#   5: carry [".gpu/cuda.part4", ".gpu/assemble.sh", ".gpudata"]
#      cp .gpu/cuda.part4 /tmp/p/ && bash .gpu/assemble.sh && tests/gpu_check.sh run
# The machine has Python 3.12 with numpy, opencv-python-headless and onnx; PyAV is not there, so
# the bench is called through its module (the CLI imports the video reader).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${INSWAPPER_LIVE_DATA:-$(git rev-parse --show-toplevel)/../shared/data}"
[ -d "$DATA" ] || DATA=/work/shared/data
TOOLS="${INSWAPPER_LIVE_TOOLS:-$DATA/../tools}"
VERSION="${ORT_GPU_VERSION:-1.31.1}"

case "${1:-run}" in
prepare)
    if [ ! -s .gpu/cuda.part4 ]; then
        # gpu-parts.sh writes .git/info/exclude, which a git worktree does not have: run it in
        # a scratch repository and take its .gpu/ (both folders are in .gitignore).
        scratch=$(mktemp -d)
        git -C "$scratch" init -q
        (cd "$scratch" && bash "$TOOLS/gpu-parts.sh" "$VERSION")
        rm -rf .gpu && mv "$scratch/.gpu" .gpu && rm -rf "$scratch"
    fi
    rm -rf .gpudata && mkdir -p .gpudata/models .gpudata/faces
    cp "$DATA"/models/face_detection_yunet_2026may.onnx "$DATA"/models/det_2.5g.onnx .gpudata/models/
    cp "$DATA"/faces/obama_oval_office_1080p.jpg "$DATA"/faces/pexels_group_meeting_4faces.jpeg .gpudata/faces/
    du -sh .gpu/* .gpudata
    ;;
run)
    [ -s /tmp/ort/onnxruntime/capi/libonnxruntime_providers_cuda.so ] || bash .gpu/assemble.sh
    mkdir -p /tmp/pkg && ln -sfn "$PWD" /tmp/pkg/inswapper_live
    export PYTHONPATH=/tmp/ort:/tmp/pkg INSWAPPER_LIVE_DATA="$PWD/.gpudata" XDG_CACHE_HOME=/tmp/cache
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    python3 - <<'PY'
"""Every node of the device graphs on CUDA (no CPU fallback allowed), and their times."""
import time
import numpy as np
import onnxruntime as ort
from onnx import TensorProto
from inswapper_live.core import devicepath

ort.preload_dlls()
print("onnxruntime", ort.__version__, ort.get_available_providers())
for faces in (1, 4):
    for name, model in (
        ("crops", devicepath.crops_model(1080, 1920, faces, 512, 1, TensorProto.FLOAT, False)),
        ("paste", devicepath.paste_model(1080, 1920, faces, 512, 1, 448, TensorProto.FLOAT, False)),
    ):
        options = ort.SessionOptions()
        options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        try:
            ort.InferenceSession(model, options, providers=["CUDAExecutionProvider"])
            print(f"{name} graph, {faces} face(s): every node on CUDA")
        except Exception as error:
            print(f"{name} graph, {faces} face(s): NOT all on CUDA: {str(error)[:300]}")
PY
    bench() {
        python3 -c "import sys; from inswapper_live.core.bench import run; sys.exit(run(sys.argv[1:]))" \
            --detector yunet --models-dir .gpudata/models --providers cuda --sizes 1080p "$@"
    }
    for path in off on; do
        echo "== device path $path, detail 0"
        bench --swapper standin:inswapper_512_live --faces 1,4 --repeat 20 --pipeline-frames 60 \
            --detail 0 --device-path "$path"
        bench --swapper standin:inswapper_128 --pixel-boost 512 --faces 1 --repeat 10 --pipeline-frames 30 \
            --detail 0 --device-path "$path"
    done
    ;;
*)
    echo "usage: $0 prepare|run" >&2
    exit 2
    ;;
esac
