"""The node pack inside a real ComfyUI server (CPU), driven over its HTTP API.

Runs when ``COMFYUI_DIR`` points at a ComfyUI checkout; ``COMFYUI_PYTHON`` is the interpreter
that has ComfyUI's requirements and this pack's requirements.txt (default: this one). ComfyUI
imports torchvision and torchaudio at start-up without using them for these nodes; where they are
not installed, a stand-in package is put on PYTHONPATH for the server only.

The pack is loaded from outside the ComfyUI tree (extra_model_paths.yaml ``custom_nodes``), the
models sit where users of other face-swap packs keep them, and the repository's example API
workflow is submitted through ``POST /prompt`` as it is, with only file names filled in.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import read, upscaler_onnx

from inswapper_live.core import synthetic
from inswapper_live.core.engine import Engine, EngineSettings
from inswapper_live.core.install.comfyui import place_example_images

REPO = Path(__file__).resolve().parent.parent
COMFYUI = os.environ.get("COMFYUI_DIR", "")
PYTHON = os.environ.get("COMFYUI_PYTHON", sys.executable)
YUNET = "face_detection_yunet_2026may.onnx"
NODES = {
    "InswapperLiveLoadSwapModel",
    "InswapperLiveExtractSource",
    "InswapperLiveSwapFace",
    "InswapperLiveSaveFaceModel",
    "InswapperLiveLoadFaceModel",
    "InswapperLiveFaceSimilarity",
}

pytestmark = pytest.mark.skipif(
    not (COMFYUI and (Path(COMFYUI) / "main.py").is_file()),
    reason="real-ComfyUI tier: set COMFYUI_DIR to a ComfyUI checkout (and COMFYUI_PYTHON to its venv's python)",
)

STAND_IN = '''"""Stand-in for {name}: ComfyUI imports it at start-up; the face-swap nodes never use it."""
import importlib.abc, importlib.machinery, sys, types


class _Meta(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything


class _Anything(metaclass=_Meta):
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Anything()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _Anything


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.startswith("{name}."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = __getattr__
        return module

    def exec_module(self, module):
        pass


__version__ = "0.0.0"
sys.meta_path.insert(0, _Finder())
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return response.read()

    def json(self, path: str, body: object | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{path}: HTTP {error.code}: {error.read().decode()[:2000]}") from error

    def upload(self, path: Path) -> str:
        boundary = uuid.uuid4().hex
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode() + path.read_bytes()
        body += f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="overwrite"\r\n\r\ntrue\r\n--{boundary}--\r\n'.encode()
        request = urllib.request.Request(
            self.url + "/upload/image",
            data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["name"]

    def run(self, prompt: dict, timeout: float = 240.0) -> dict:
        """Submit an API-format graph and wait for its history entry."""
        prompt_id = self.json("/prompt", {"prompt": prompt, "client_id": "inswapper-live-test"})["prompt_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self.json(f"/history/{prompt_id}").get(prompt_id)
            if entry:  # written when the prompt finished, with or without an error
                return entry
            time.sleep(0.25)
        raise AssertionError(
            f"prompt {prompt_id} did not finish in {timeout} s; log:\n{self.log.read_text()[-3000:]}"
        )


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, yunet: Path) -> Path:
    """A ComfyUI base folder: models where ReActor users keep them, YuNet in our folder."""
    base = tmp_path_factory.mktemp("comfyui-base")
    m = base / "models"
    synthetic.make_swapper(m / "insightface" / "inswapper_128.onnx", 128, batch=True)
    synthetic.make_swapper(m / "hyperswap" / "swapper_512.onnx", 512, seed=5)
    synthetic.make_recognizer(m / "insightface" / "models" / "buffalo_l" / "w600k_r50.onnx")
    upscaler_onnx(m / "insightface" / "upscaler_x4.onnx")
    (base / "extra_models").mkdir()
    shutil.copy(yunet, base / "extra_models" / YUNET)
    (base / "custom_nodes").mkdir()
    return base


@pytest.fixture(scope="module")
def server(models: Path) -> Iterator[Server]:
    base = models
    packs = base / "packs"
    packs.mkdir()
    (packs / "inswapper-live").symlink_to(REPO, target_is_directory=True)
    config = base / "extra_model_paths.yaml"
    config.write_text(
        f"inswapper_live_test:\n    base_path: {base}\n    custom_nodes: packs\n    inswapper_live: extra_models\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COMFYUI_DIR", "INSWAPPER_LIVE_MODELS")}
    if subprocess.run([PYTHON, "-c", "import torchvision, torchaudio"], capture_output=True).returncode:
        stand_in = base / "stand_in"
        for name in ("torchvision", "torchaudio"):
            (stand_in / name).mkdir(parents=True)
            (stand_in / name / "__init__.py").write_text(STAND_IN.replace("{name}", name), encoding="utf-8")
        env["PYTHONPATH"] = os.pathsep.join([str(stand_in), *filter(None, [env.get("PYTHONPATH")])])
    port = _free_port()
    log = base / "comfyui.log"
    command = [
        PYTHON, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port), "--disable-auto-launch",
        "--disable-api-nodes", "--database-url", "sqlite:///:memory:", "--base-directory", str(base),
        "--extra-model-paths-config", str(config),
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=COMFYUI, env=env, stdout=out, stderr=subprocess.STDOUT)
    srv = Server(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise AssertionError(f"ComfyUI exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            try:
                srv.get("/system_stats")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"ComfyUI did not start in 180 s:\n{log.read_text()[-4000:]}"
                    ) from None
                time.sleep(0.5)
        yield srv
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_pack_loads_and_lists_models(server: Server) -> None:
    log = server.log.read_text()
    assert "IMPORT FAILED" not in log, log[-4000:]
    info = server.json("/object_info")
    assert set(info) >= NODES, sorted(NODES - set(info))
    loader = server.json("/object_info/InswapperLiveLoadSwapModel")["InswapperLiveLoadSwapModel"]
    required = loader["input"]["required"]
    assert (
        required["swapper"][0][:1] == ["inswapper_128.onnx"] and "swapper_512.onnx" in required["swapper"][0]
    )
    assert YUNET in required["detector"][0]
    assert required["recognizer"][0][:1] == ["w600k_r50.onnx"]
    for kind in ("swapper", "detector", "recognizer"):
        assert "upscaler_x4.onnx" not in required[kind][0], kind
    assert YUNET not in required["swapper"][0] and "swapper_512.onnx" not in required["detector"][0]
    assert "cpu" in required["provider"][0] and "AzureExecutionProvider" not in required["provider"][0]
    assert loader["output"] == ["INSWAPPER_LIVE_MODEL"] and loader["category"] == "inswapper-live"


def test_example_workflow_swaps_the_face_only(
    server: Server, models: Path, faces_dir: Path, tmp_path: Path
) -> None:
    # PNG uploads: ComfyUI (PIL) and this test (OpenCV) then decode the very same pixels.
    source, target = read(faces_dir / "biden_portrait.jpg"), read(faces_dir / "obama_official_portrait.jpg")
    cv2.imwrite(str(tmp_path / "il_source.png"), source)
    cv2.imwrite(str(tmp_path / "il_target.png"), target)
    workflow = json.loads((REPO / "comfy_nodes" / "workflows" / "swap_face_api.json").read_text())
    workflow["1"]["inputs"]["image"] = server.upload(tmp_path / "il_source.png")
    workflow["2"]["inputs"]["image"] = server.upload(tmp_path / "il_target.png")
    workflow["3"]["inputs"]["detector"] = YUNET  # det_10g cannot be downloaded on the test machines
    entry = server.run(workflow)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    assert entry["outputs"]["7"]["text"] == ["Swapped 1 face in 1 frame."]
    (image,) = entry["outputs"]["6"]["images"]
    query = urllib.parse.urlencode({k: image[k] for k in ("filename", "subfolder", "type")})
    out = cv2.imdecode(np.frombuffer(server.get(f"/view?{query}"), np.uint8), cv2.IMREAD_COLOR)
    assert out.shape == target.shape

    # What the engine itself gives for the same files, outside ComfyUI.
    m = models / "models"
    engine = Engine(
        EngineSettings(
            swapper=str(m / "insightface" / "inswapper_128.onnx"),
            detector=str(models / "extra_models" / YUNET),
            recognizer=str(m / "insightface" / "models" / "buffalo_l" / "w600k_r50.onnx"),
        )
    )
    engine.set_source(engine.analyse_source([source]))
    expected = engine.swap(target)
    (face,) = expected.faces
    changed = (out != target).any(axis=2)
    x1, y1, x2, y2 = face.bbox.astype(int)
    assert changed[y1:y2, x1:x2].mean() > 0.5, "the face did not change"
    region = expected.mask() > 0
    assert not changed[~region].any(), "pixels outside the swapped face changed"
    assert np.abs(out.astype(int) - expected.frame.astype(int)).max() <= 2


def test_user_errors_reach_the_user(server: Server, faces_dir: Path, tmp_path: Path) -> None:
    """A source without a face fails in ExtractSource with the engine's message; SaveFaceModel lists."""
    cv2.imwrite(str(tmp_path / "il_empty.png"), read(faces_dir / "obama_official_portrait.jpg")[-150:, :300])
    workflow = json.loads((REPO / "comfy_nodes" / "workflows" / "swap_face_api.json").read_text())
    workflow["1"]["inputs"]["image"] = server.upload(tmp_path / "il_empty.png")
    workflow["2"]["inputs"]["image"] = workflow["1"]["inputs"]["image"]
    workflow["3"]["inputs"]["detector"] = YUNET
    entry = server.run(workflow)
    errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert errors and errors[0]["node_type"] == "InswapperLiveExtractSource"
    assert "0 faces detected" in errors[0]["exception_message"]

    cv2.imwrite(str(tmp_path / "il_face.png"), read(faces_dir / "biden_portrait.jpg"))
    save = {
        "1": {"class_type": "LoadImage", "inputs": {"image": server.upload(tmp_path / "il_face.png")}},
        "3": workflow["3"],
        "4": {**workflow["4"], "inputs": {**workflow["4"]["inputs"], "image": ["1", 0]}},
        "7": {
            "class_type": "InswapperLiveSaveFaceModel",
            "inputs": {"source_face": ["4", 0], "name": "chris", "overwrite": True},
        },
    }
    assert server.run(save)["status"]["status_str"] == "success"
    listed = server.json("/object_info/InswapperLiveLoadFaceModel")["InswapperLiveLoadFaceModel"]
    assert "chris.safetensors" in listed["input"]["required"]["face_model"][0]


def test_the_example_workflow_runs_as_shipped_with_the_photos_install_puts_in_input(
    server: Server, models: Path
) -> None:
    """install.py inside custom_nodes copies the example photos to ComfyUI's input folder."""
    assert place_example_images(models)  # --base-directory: the input folder is the base's
    workflow = json.loads((REPO / "comfy_nodes" / "workflows" / "swap_face_api.json").read_text())
    workflow["3"]["inputs"]["detector"] = YUNET  # det_10g cannot be downloaded on the test machines
    entry = server.run(workflow)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    assert entry["outputs"]["7"]["text"] == ["Swapped 1 face in 1 frame."]


def test_unchanged_frames_and_missing_models_are_said_once(
    server: Server, faces_dir: Path, tmp_path: Path
) -> None:
    """No face / an index past the last face: the report reaches the UI and the log. A missing model:
    LoadSwapModel's error, without IS_CHANGED repeating it as a warning."""
    cv2.imwrite(str(tmp_path / "il_noface.png"), read(faces_dir / "obama_official_portrait.jpg")[-150:, :300])
    cv2.imwrite(str(tmp_path / "il_group.png"), read(faces_dir / "apollo11_crew_3faces.jpg"))
    cv2.imwrite(str(tmp_path / "il_src.png"), read(faces_dir / "biden_portrait.jpg"))
    workflow = json.loads((REPO / "comfy_nodes" / "workflows" / "swap_face_api.json").read_text())
    workflow["1"]["inputs"]["image"] = server.upload(tmp_path / "il_src.png")
    workflow["2"]["inputs"]["image"] = server.upload(tmp_path / "il_noface.png")
    workflow["3"]["inputs"]["detector"] = YUNET
    entry = server.run(workflow)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    (report,) = entry["outputs"]["7"]["text"]
    assert report.startswith("Swapped 0 faces in 1 frame.\nNo face found in the image: returned unchanged.")
    assert "Swap Face: No face found in the image" in server.log.read_text()  # ComfyUI logs without levels

    workflow["2"]["inputs"]["image"] = server.upload(tmp_path / "il_group.png")
    workflow["5"]["inputs"]["target_faces"] = "9"
    entry = server.run(workflow)
    (report,) = entry["outputs"]["7"]["text"]
    assert (
        "target_faces 9: the image has 3 faces (counted left-right from 0), so face 9 is not there" in report
    )

    workflow["5"]["inputs"]["target_faces"] = "all"
    workflow["3"]["inputs"]["detector"] = "det_10g.onnx"  # listed, so the prompt validates; not on disk
    entry = server.run(workflow)
    errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert errors and errors[0]["node_type"] == "InswapperLiveLoadSwapModel"
    assert "The detector model 'det_10g.onnx' was not found" in errors[0]["exception_message"]
    log = server.log.read_text()
    assert "WARNING: The detector model" not in log, "IS_CHANGED repeated the error"
    assert "Model det_10g (det_10g.onnx) was not found" not in log, "the engine's own message was chained in"
