"""The real OBS Studio program under Xvfb, in a temporary HOME, driven through obs-websocket.

OBS starts with a profile (640x480 at 30 fps) and a scene collection whose scripts-tool entry
loads ``obs_plugin/face_swap_filter.py``, exactly as Tools > Scripts saves it. ``stop`` sends
SIGINT, as a user closing the window does, and returns OBS's log.
"""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np

COLLECTION = "FaceSwapTest"
PROFILE = "FaceSwapTest"
WIDTH, HEIGHT, FPS = 640, 480, 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ObsGui:
    def __init__(self, obs_binary: str, home: Path, env: dict[str, str], script: Path) -> None:
        self.binary = obs_binary
        self.home = home
        self.env = {**env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
        self.script = script
        self.port = _free_port()
        self.config = home / ".config" / "obs-studio"
        self.process: subprocess.Popen | None = None
        self.client = None
        self.log_path = home / "obs-stdout.log"

    def write_config(self) -> None:
        """global.ini, a profile and a scene collection that loads the script (first start only)."""
        (self.config / "basic" / "profiles" / PROFILE).mkdir(parents=True, exist_ok=True)
        (self.config / "basic" / "scenes").mkdir(parents=True, exist_ok=True)
        (self.config / "global.ini").write_text(
            "[General]\nFirstRun=true\nLastVersion=486539266\nConfirmOnExit=false\nEnableAutoUpdates=false\n"
            f"[Basic]\nProfile={PROFILE}\nProfileDir={PROFILE}\nSceneCollection={COLLECTION}\n"
            f"SceneCollectionFile={COLLECTION}\nConfigOnNewProfile=false\n"
            "[OBSWebSocket]\nFirstLoad=false\nServerEnabled=true\n"
            f"ServerPort={self.port}\nAlertsEnabled=false\nAuthRequired=false\nServerPassword=\n"
        )
        (self.config / "basic" / "profiles" / PROFILE / "basic.ini").write_text(
            f"[General]\nName={PROFILE}\n[Video]\nBaseCX={WIDTH}\nBaseCY={HEIGHT}\nOutputCX={WIDTH}\n"
            f"OutputCY={HEIGHT}\nFPSType=0\nFPSCommon={FPS}\n"
        )
        collection = {
            "name": COLLECTION,
            "current_scene": "Scene",
            "current_program_scene": "Scene",
            "scene_order": [{"name": "Scene"}],
            "sources": [
                {
                    "id": "scene",
                    "versioned_id": "scene",
                    "name": "Scene",
                    "settings": {"items": [], "id_counter": 0, "custom_size": False},
                }
            ],
            "modules": {"scripts-tool": [{"path": str(self.script), "settings": {}}]},
        }
        (self.config / "basic" / "scenes" / f"{COLLECTION}.json").write_text(json.dumps(collection))

    def start(self, timeout: float = 90.0) -> None:
        import obsws_python

        command = [
            self.binary,
            "--multi",
            "--minimize-to-tray",
            "--collection",
            COLLECTION,
            "--profile",
            PROFILE,
        ]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.home
        )
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(f"OBS exited ({self.process.returncode}):\n{self.log()[-4000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                self.client = obsws_python.ReqClient(
                    host="127.0.0.1", port=self.port, password="", timeout=30
                )
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"obs-websocket did not open port {self.port}:\n{self.log()[-4000:]}")

    def request(self, name: str, data: dict | None = None) -> dict:
        return self.client.send(name, data, raw=True) or {}

    def screenshot(self, source: str) -> np.ndarray | None:
        """The source as OBS renders it (BGR), through GetSourceScreenshot; None before its first frame."""
        from obsws_python.error import OBSSDKRequestError

        try:
            reply = self.request("GetSourceScreenshot", {"sourceName": source, "imageFormat": "png"})
        except OBSSDKRequestError as error:
            if error.code == 702:  # "Failed to render screenshot": the source has no size yet
                return None
            raise
        payload = reply["imageData"].split(",", 1)[1]
        image = cv2.imdecode(np.frombuffer(base64.b64decode(payload), np.uint8), cv2.IMREAD_COLOR)
        assert image is not None
        return image

    def stats(self) -> dict:
        return self.request("GetStats")

    def stop(self, timeout: float = 60.0) -> tuple[int, str]:
        """SIGINT, as closing the window: returns OBS's exit code and everything it logged."""
        if self.client is not None:
            self.client.base_client.ws.close()
            self.client = None
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code, self.log()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def clip_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def closest_frame(shot: np.ndarray, frames: list[np.ndarray], ignore: np.ndarray | None = None) -> int:
    """The clip frame a screenshot shows (smallest error, outside ``ignore`` when given)."""
    small = cv2.resize(shot, (160, 120), interpolation=cv2.INTER_AREA).astype(np.float32)
    keep = np.ones((120, 160), bool)
    if ignore is not None:
        keep = cv2.resize(ignore.astype(np.uint8), (160, 120), interpolation=cv2.INTER_NEAREST) == 0
    errors = [
        float(
            np.abs(cv2.resize(f, (160, 120), interpolation=cv2.INTER_AREA).astype(np.float32) - small)[
                keep
            ].mean()
        )
        for f in frames
    ]
    return int(np.argmin(errors))


def obs_env(env: dict[str, str]) -> dict[str, str]:
    """OBS must find the packages the way a user's OBS does (the script's own search), not through
    PYTHONPATH; and importing cv2 in this process set Qt variables that would break OBS's own Qt."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {k: v for k, v in env.items() if k not in dropped and not k.startswith("QT_")}
