"""The real OBS Studio program under Xvfb, in a temporary HOME, driven through obs-websocket.

OBS starts with a profile (640x480 at 30 fps) and a scene collection whose scripts-tool entry
loads ``obs_plugin/face_swap_filter.py``, exactly as Tools > Scripts saves it. ``stop`` closes
the main window as a user does (an X11 WM_DELETE_WINDOW message) and returns OBS's log.

Not SIGINT: up to OBS 29.0 (Debian 12 ships 29.0.2) the SIGINT handler calls
``OBSBasic::close()`` inside the signal handler, so the whole shutdown runs on top of whatever
the main thread was doing. Sent while the UI thread is busy (adding a source, repainting) it
deadlocks on a lock that interrupted code holds (the xcb socket, a scene mutex, the displays
mutex: the log stops at "==== Shutting down ====") or returns into widgets and scenes the
shutdown freed (SIGSEGV after "All scene data cleared"): in 10 of 30 starts closed right after
adding a colour source with an empty script and no filter. OBS 29.1 fixed it
upstream (commit 5182368, "UI: Properly handle SIGINT on non-Windows platforms").
"""

from __future__ import annotations

import base64
import ctypes
import json
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
        self.collection_file().write_text(json.dumps(collection))

    def collection_file(self) -> Path:
        """The scene collection OBS loads at start and saves on exit."""
        return self.config / "basic" / "scenes" / f"{COLLECTION}.json"

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
        """Close the main window: returns OBS's exit code and everything it logged."""
        if self.client is not None:
            self.client.base_client.ws.close()
            self.client = None
        assert self.process is not None
        if not close_main_window(self.env["DISPLAY"], self.process.pid):
            self.kill()
            raise RuntimeError(
                f"OBS's main window was not found on {self.env['DISPLAY']}:\n{self.log()[-4000:]}"
            )
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


class _ClientMessage(ctypes.Structure):
    """XClientMessageEvent, padded to the size of the XEvent union (24 longs)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
        ("pad", ctypes.c_long * 12),
    ]


_CLIENT_MESSAGE = 33
_XA_CARDINAL = 6


def _xlib() -> ctypes.CDLL:
    x11 = ctypes.CDLL("libX11.so.6")
    ulong, p = ctypes.c_ulong, ctypes.c_void_p
    for name, restype, argtypes in (
        ("XOpenDisplay", p, [ctypes.c_char_p]),
        ("XCloseDisplay", ctypes.c_int, [p]),
        ("XDefaultRootWindow", ulong, [p]),
        ("XInternAtom", ulong, [p, ctypes.c_char_p, ctypes.c_int]),
        ("XQueryTree", ctypes.c_int, [p, ulong, p, p, p, p]),
        ("XGetWindowProperty", ctypes.c_int, [p, ulong, ulong, ctypes.c_long, ctypes.c_long, ctypes.c_int, ulong, p, p, p, p, p]),
        ("XFetchName", ctypes.c_int, [p, ulong, p]),
        ("XFree", ctypes.c_int, [p]),
        ("XSendEvent", ctypes.c_int, [p, ulong, ctypes.c_int, ctypes.c_long, p]),
        ("XFlush", ctypes.c_int, [p]),
    ):  # fmt: skip
        fn = getattr(x11, name)
        fn.restype, fn.argtypes = restype, argtypes
    return x11


def close_main_window(display: str, pid: int) -> bool:
    """Send WM_DELETE_WINDOW to the main window of OBS process ``pid``, as its close button does
    (OBS then shuts down from its event loop); False when no such window exists."""
    x11 = _xlib()
    dpy = x11.XOpenDisplay(display.encode())
    if not dpy:
        raise RuntimeError(f"cannot open X display {display}")
    try:
        window = _main_window(x11, dpy, pid)
        if window is None:
            return False
        event = _ClientMessage(type=_CLIENT_MESSAGE, send_event=1, display=dpy, window=window, format=32)
        event.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        event.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        x11.XSendEvent(dpy, window, 0, 0, ctypes.byref(event))
        x11.XFlush(dpy)
        return True
    finally:
        x11.XCloseDisplay(dpy)


def _main_window(x11: ctypes.CDLL, dpy: int, pid: int) -> int | None:
    """The top-level window of ``pid`` titled with the profile (OBS's main window)."""
    root, parent, count = ctypes.c_ulong(), ctypes.c_ulong(), ctypes.c_uint()
    children = ctypes.POINTER(ctypes.c_ulong)()
    tree = (ctypes.byref(root), ctypes.byref(parent), ctypes.byref(children), ctypes.byref(count))
    if not x11.XQueryTree(dpy, x11.XDefaultRootWindow(dpy), *tree):
        return None
    pid_atom = x11.XInternAtom(dpy, b"_NET_WM_PID", 0)
    try:
        for i in range(count.value):
            window = children[i]
            if _window_pid(x11, dpy, window, pid_atom) == pid and PROFILE in _window_name(x11, dpy, window):
                return window
    finally:
        if children:
            x11.XFree(children)
    return None


def _window_pid(x11: ctypes.CDLL, dpy: int, window: int, atom: int) -> int | None:
    kind, fmt, items, after = ctypes.c_ulong(), ctypes.c_int(), ctypes.c_ulong(), ctypes.c_ulong()
    data = ctypes.POINTER(ctypes.c_ulong)()
    found = (
        ctypes.byref(kind),
        ctypes.byref(fmt),
        ctypes.byref(items),
        ctypes.byref(after),
        ctypes.byref(data),
    )
    status = x11.XGetWindowProperty(dpy, window, atom, 0, 1, 0, _XA_CARDINAL, *found)
    try:
        return int(data[0]) if status == 0 and data and items.value == 1 else None
    finally:
        if data:
            x11.XFree(data)


def _window_name(x11: ctypes.CDLL, dpy: int, window: int) -> str:
    name = ctypes.c_void_p()
    if not x11.XFetchName(dpy, window, ctypes.byref(name)) or not name.value:
        return ""
    try:
        return ctypes.string_at(name.value).decode("latin-1")
    finally:
        x11.XFree(name)


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


def _xdotool(display: str, *args: str) -> str:
    proc = subprocess.run(
        ["xdotool", *args], env={"DISPLAY": display}, capture_output=True, text=True, timeout=30
    )
    return proc.stdout.strip()


def _geometry(display: str, window: str) -> dict[str, str]:
    geometry = _xdotool(display, "getwindowgeometry", "--shell", window)
    return dict(line.split("=", 1) for line in geometry.splitlines() if "=" in line)


def _window(display: str, name: str, timeout: float = 10.0) -> str:
    """The id of the visible window titled ``name``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = _xdotool(display, "search", "--onlyvisible", "--name", name).split()
        if found:
            return found[0]
        time.sleep(0.2)
    raise RuntimeError(f"no window named {name!r} on {display}")


RELOAD_BUTTON = (121, 408)
"""The Scripts dialog's Reload Scripts button (the circular arrow under the list), from the
dialog's top-left corner, in OBS 29.0.2 at its default dialog size on Xvfb."""


def open_scripts_dialog(display: str) -> str:
    """Tools > Scripts from the keyboard, as a user opens it: Alt+T, then the fourth item."""
    main = _window(display, PROFILE)
    _xdotool(display, "windowfocus", "--sync", main)
    _xdotool(display, "key", "alt+t")
    time.sleep(0.5)
    for key in (
        "Down",
        "Down",
        "Down",
        "Return",
    ):  # Auto-Configuration, Scene Switcher, Output Timer, Scripts
        _xdotool(display, "key", key)
        time.sleep(0.2)
    window = _window(display, "^Scripts$")
    return window


def click_reload_scripts(display: str) -> str:
    """Click the Scripts dialog's Reload Scripts button with the mouse, as a user does: once the
    dialog has stopped moving, point at the button, then press. Returns where the pointer was, for
    a failure message."""
    window, x, y = _settled_window(display, "^Scripts$")
    _xdotool(display, "mousemove", str(x + RELOAD_BUTTON[0]), str(y + RELOAD_BUTTON[1]))
    time.sleep(0.3)
    _xdotool(display, "click", "1")
    return f"Scripts dialog {window} at ({x}, {y}); pointer {_xdotool(display, 'getmouselocation')}"


def _settled_window(
    display: str, name: str, still: float = 0.5, timeout: float = 10.0
) -> tuple[str, int, int]:
    """(id, x, y) of the window titled ``name`` once its geometry has not changed for ``still`` seconds."""
    end = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < end:
        window = _window(display, name)
        values = _geometry(display, window)
        now = (window, values["X"], values["Y"], values["WIDTH"], values["HEIGHT"])
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= still:
            return window, int(values["X"]), int(values["Y"])
        time.sleep(0.1)
    raise RuntimeError(f"the window named {name!r} on {display} kept moving: {last}")
