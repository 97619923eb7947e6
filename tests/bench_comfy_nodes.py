"""What the ComfyUI SwapFace node adds on top of the engine, per frame (prints figures, asserts nothing).

Run: ``.venv/bin/python tests/bench_comfy_nodes.py`` (needs torch and ../shared/data). The node
time includes converting the IMAGE tensor to BGR frames, copying the batch and writing the swapped
pixels and masks back; "engine" is ``Engine.swap`` on the same BGR frames. Synthetic models keep
the inference small, so the difference is the node's own overhead.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import DATA
from fake_comfy import FakeComfy

from inswapper_live.core import synthetic


def main() -> None:
    base = Path(tempfile.mkdtemp())
    try:
        fake = FakeComfy(base)
        sys.modules.update(fake.modules)
        models = fake.models_dir
        synthetic.make_swapper(models / "insightface" / "inswapper_128.onnx", 128, batch=True)
        synthetic.make_recognizer(models / "insightface" / "w600k_r50.onnx")
        yunet = DATA / "models" / "face_detection_yunet_2026may.onnx"
        (models / "inswapper_live").mkdir()
        shutil.copy(yunet, models / "inswapper_live" / yunet.name)
        from inswapper_live.comfy_nodes import nodes

        engine = nodes.LoadSwapModel().load(
            "inswapper_128.onnx", yunet.name, "w600k_r50.onnx", "cpu", 640, 0.5, 0
        )[0]

        def image(*frames: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.stack([f[..., ::-1] for f in frames]).astype(np.float32) / 255.0)

        source = nodes.ExtractSource().extract(
            engine, image(cv2.imread(str(DATA / "faces" / "biden_portrait.jpg"))), 0, "large-small"
        )[0]
        capture = cv2.VideoCapture(str(DATA / "video" / "clip_obama_zoom_3s.mp4"))
        clip = [capture.read()[1] for _ in range(16)]
        big = cv2.imread(str(DATA / "faces" / "obama_oval_office_1080p.jpg"))
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        for name, frames in (("640x480, 16 frames", clip), ("1920x1080, 8 frames", [big] * 8)):
            batch = image(*frames)
            node_ms, engine_ms = [], []
            for _ in range(3):
                start = time.perf_counter()
                nodes.SwapFace().swap(engine, source, batch, "all", "left-right", "native", 1.0)
                node_ms.append((time.perf_counter() - start) * 1000 / len(frames))
                start = time.perf_counter()
                for frame in frames:
                    engine.swap(frame)
                engine_ms.append((time.perf_counter() - start) * 1000 / len(frames))
            node, alone = statistics.median(node_ms), statistics.median(engine_ms)
            print(
                f"{name}: node {node:.1f} ms/frame, engine {alone:.1f} ms/frame, node overhead {node - alone:.1f} ms"
            )
    finally:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
