"""A stand-in for the Hugging Face Hub on 127.0.0.1: serves folders as model repos, so downloads are tested offline.

It answers the two requests a download makes: the repo's file list (``/api/models/ORG/NAME``) and each file
(``/ORG/NAME/resolve/REVISION/PATH``, HEAD and GET, with the commit and ETag headers huggingface_hub checks).
``delay`` slows file bodies down (in chunks) so a test can cancel mid-file.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, repos: dict[str, Path], delay: float = 0.0) -> None:
        self.repos, self.delay = repos, delay
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                hub.answer(self, body=False)

            def do_GET(self) -> None:
                hub.answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlparse(handler.path).path)
        self.requests.append(f"{handler.command} {path}")
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            self._send_json(handler, self._info("/".join(parts[2:4])), body)
        elif len(parts) >= 5 and parts[2] == "resolve":
            self._send_file(handler, "/".join(parts[:2]), "/".join(parts[4:]), body)
        else:
            handler.send_error(404)

    def _info(self, repo: str):
        root = self.repos.get(repo)
        if root is None:
            return None
        files = sorted(p for p in root.rglob("*") if p.is_file())
        siblings = [{"rfilename": p.relative_to(root).as_posix(), "size": p.stat().st_size} for p in files]
        return {"id": repo, "modelId": repo, "sha": COMMIT, "siblings": siblings, "private": False}

    def _send_json(self, handler, data, body: bool) -> None:
        if data is None:
            handler.send_response(404)
            handler.send_header("X-Error-Code", "RepoNotFound")
            handler.end_headers()
            return
        raw = json.dumps(data).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        if body:
            handler.wfile.write(raw)

    def _send_file(self, handler, repo: str, name: str, body: bool) -> None:
        root = self.repos.get(repo)
        file = root / name if root else None
        if file is None or not file.is_file():
            handler.send_response(404)
            handler.send_header("X-Error-Code", "EntryNotFound")
            handler.end_headers()
            return
        raw = file.read_bytes()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(raw)))
        handler.send_header("X-Repo-Commit", COMMIT)
        handler.send_header("ETag", f'"{hashlib.sha256(raw).hexdigest()}"')
        handler.end_headers()
        if not body:
            return
        step = max(1, len(raw) // 8) if self.delay else len(raw) or 1
        try:
            for start in range(0, len(raw), step):
                handler.wfile.write(raw[start : start + step])
                handler.wfile.flush()
                if self.delay:
                    time.sleep(self.delay)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client cancelled
