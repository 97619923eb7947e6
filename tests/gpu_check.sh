#!/usr/bin/env bash
# GPU check for the live engine: the bench on CUDA (and TensorRT where present) with the
# cost-true stand-ins, on a lent NVIDIA machine that has no network.
#
#   tests/gpu_check.sh prepare   # here, with package registries: wheels into .whl/, data into .gpudata/
#   tests/gpu_check.sh run       # there: install the wheels into /tmp/site, print the bench tables
#
# Through the device tool: run `prepare` here, then run `tests/gpu_check.sh run` there with
# carry [".whl", ".gpudata"]. Both folders must be git-ignored (.git/info/exclude).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${INSWAPPER_LIVE_DATA:-../shared/data}"

case "${1:-run}" in
prepare)
    rm -rf .whl .gpudata
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl onnxruntime-gpu av coloredlogs humanfriendly
    mkdir -p .gpudata/models .gpudata/faces .gpudata/video
    cp "$DATA"/models/face_detection_yunet_2026may.onnx "$DATA"/models/det_2.5g.onnx .gpudata/models/
    cp "$DATA"/faces/obama_oval_office_1080p.jpg "$DATA"/faces/pexels_group_meeting_4faces.jpeg \
       "$DATA"/faces/codait_luciano.png .gpudata/faces/
    cp "$DATA"/video/*.mp4 .gpudata/video/
    du -sh .whl .gpudata
    ;;
run)
    python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl
    mkdir -p /tmp/pkg && ln -sfn "$PWD" /tmp/pkg/inswapper_live
    export PYTHONPATH=/tmp/site:/tmp/pkg INSWAPPER_LIVE_DATA="$PWD/.gpudata"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    python3 -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())"
    for swapper in inswapper_512_live_mini inswapper_512_live inswapper_128; do
        python3 -m inswapper_live bench --swapper "standin:$swapper" --providers all --sizes 720p,1080p \
            --faces 1,4 --repeat 20 --pipeline-frames 40 --models-dir .gpudata/models
    done
    python3 -m inswapper_live bench --swapper standin:inswapper_128 --pixel-boost 512 --providers all \
        --sizes 1080p --faces 1 --models-dir .gpudata/models
    ;;
*)
    echo "usage: $0 prepare|run" >&2
    exit 2
    ;;
esac
