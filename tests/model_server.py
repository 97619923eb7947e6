"""A local HTTP server on 127.0.0.1 that serves model files the ways real mirrors fail.

Paths are ``/<mode>/<name>`` for a file registered with :meth:`ModelServer.add`:
``ok`` serves it with Range support; ``cut`` sends only the first ``cut_at`` bytes of the
first answer and then closes the connection (later requests resume normally); ``corrupt``
serves the same number of bytes with some flipped; ``norange`` ignores Range headers;
``missing`` answers 404. The server is bounded: it stops by itself after ``max_requests``
requests or ``lifetime`` seconds, whichever comes first.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ModelServer:
    def __init__(self, cut_at: int = 4096, max_requests: int = 200, lifetime: float = 120.0) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        """(path, Range header) of every request, in order."""
        self.cut_at = cut_at
        self.max_requests = max_requests
        self._cut_done: set[str] = set()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.timeout = 5
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._watchdog = threading.Timer(lifetime, self.stop)
        self._watchdog.daemon = True

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, mode: str, name: str) -> str:
        return f"{self.base}/{mode}/{name}"

    def add(self, name: str, data: bytes) -> None:
        self.files[name] = data

    def start(self) -> ModelServer:
        self._thread.start()
        self._watchdog.start()
        return self

    def stop(self) -> None:
        self._watchdog.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()

    def ranges(self, name: str) -> list[str | None]:
        return [r for p, r in self.requests if p.endswith("/" + name)]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append((h.path, h.headers.get("Range")))
            if len(self.requests) > self.max_requests:
                threading.Thread(target=self.stop, daemon=True).start()
                h.send_error(503)
                return
        parts = h.path.strip("/").split("/", 1)
        if len(parts) != 2 or parts[1] not in self.files or parts[0] == "missing":
            h.send_error(404)
            return
        mode, name = parts
        data = self.files[name]
        if mode == "corrupt":
            data = bytes(b ^ 0xFF if i % 1000 == 0 else b for i, b in enumerate(data))
        start = 0
        header = h.headers.get("Range")
        if header and mode != "norange" and header.startswith("bytes="):
            start = int(header[6:].split("-")[0])
            if start >= len(data):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            h.send_response(200)
        body = data[start:]
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        with self._lock:
            cut = mode == "cut" and name not in self._cut_done
            self._cut_done.add(name)
        if cut:
            h.wfile.write(body[: self.cut_at])
            h.wfile.flush()
            h.close_connection = True
            return
        h.wfile.write(body)
