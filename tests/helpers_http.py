"""Real processes for the HTTP backend tests: `transformers serve` on a free loopback port,
and a small loopback proxy in front of it that injects faults (429/503 with Retry-After,
400, a server that never answers, a stream without usage) and records what it was sent.

Only 127.0.0.1 is ever used. The server is started once per test process and shared by
every test module (start-up costs ~15 s on two busy cores); a test that kills it restarts
it on the same port.
"""
from __future__ import annotations

import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from core import config

# the model the server serves: demo-small (override only to develop before it exists)
MODEL_DIR = Path(os.environ.get("LLM_EVAL_HTTP_TEST_MODEL", config.MODELS_DIR / "demo-small"))
START_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _transformers_cli() -> str:
    exe = Path(sys.executable).with_name("transformers")
    return str(exe) if exe.exists() else "transformers"


class ServeProcess:
    """`transformers serve MODEL_DIR` on 127.0.0.1:port (CPU, float32, offline), as a real subprocess."""

    def __init__(self, model_dir: Path = MODEL_DIR, port: int | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.model_dir = Path(model_dir).resolve()
        self.extra_args = tuple(extra_args)  # e.g. ("--continuous-batching",)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = Path(tempfile.mkdtemp(prefix="llm-eval-serve-")) / "serve.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def served_model(self) -> str:
        return str(self.model_dir)  # the server is pinned to this name

    def start(self) -> ServeProcess:
        # one intra-op thread: beside other busy processes on few cores, OpenMP oversubscription
        # turns a 20 ms request into a 500 ms one (measured on the 2-core development machine)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
               "OMP_NUM_THREADS": os.environ.get("LLM_EVAL_SERVE_THREADS", "1")}
        cmd = [_transformers_cli(), "serve", str(self.model_dir), "--host", "127.0.0.1", "--port", str(self.port),
               "--device", "cpu", "--dtype", "float32", "--log-level", "warning", *self.extra_args]
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            self.kill()
            raise RuntimeError(f"transformers serve not ready within {START_TIMEOUT_S:.0f} s:\n{self.log.read_text()[-3000:]}")
        self.complete("warm up", 2)  # the model loads on the first request

    def complete(self, prompt: str, max_tokens: int) -> dict:
        body = json.dumps({"model": self.served_model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0}).encode()
        req = urllib.request.Request(f"{self.base_url}/completions", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())

    def kill(self) -> None:
        """SIGKILL, as a crash would: no graceful shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


_SHARED: dict[str, ServeProcess] = {}


def shared_server(model_dir: Path = MODEL_DIR) -> ServeProcess:
    """One server per model for the whole test process; restarted if a test killed it."""
    key = str(Path(model_dir).resolve())
    srv = _SHARED.get(key)
    if srv is None:
        srv = _SHARED[key] = ServeProcess(model_dir)
        atexit.register(srv.kill)
    if not srv.alive:
        srv.start()
    return srv


# --------------------------------------------------------------------------- fault proxy


class FaultProxy:
    """A loopback HTTP proxy to an upstream server, answering from a script of actions.

    Each request takes the next action from `script` (then `default`):
      ("forward",)                     pass through, streaming the answer
      ("strip_usage",)                 pass through, removing every `usage` from the stream
      ("status", code, headers, body)  answer with this status (body may use {authorization})
      ("hang",)                        accept and never answer
    `requests` records (path, headers with lower-case names, monotonic time) of every request.
    """

    def __init__(self, upstream_port: int | None, script: list[tuple] | None = None, default: tuple = ("forward",)) -> None:
        self.upstream_port = upstream_port
        self.script = list(script or [])
        self.default = default
        self.requests: list[tuple[str, dict, float]] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # a response ends when the connection closes

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy._lock:
                    proxy.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()))
                    action = proxy.script.pop(0) if proxy.script else proxy.default
                proxy._act(self, action, body)

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _act(self, h: BaseHTTPRequestHandler, action: tuple, body: bytes) -> None:
        kind = action[0]
        if kind == "hang":
            self._closing.wait(120)
            return
        if kind == "status":
            code = action[1]
            headers = action[2] if len(action) > 2 else {}
            text = action[3] if len(action) > 3 else '{"error": {"message": "injected"}}'
            payload = text.replace("{authorization}", h.headers.get("Authorization", "")).encode()
            h.send_response(code)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        self._forward(h, body, strip_usage=kind == "strip_usage")

    def _forward(self, h: BaseHTTPRequestHandler, body: bytes, strip_usage: bool) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=120)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection", "content-length")}
        try:
            conn.request(h.command, h.path, body=body or None, headers={**headers, "Content-Length": str(len(body))})
            resp = conn.getresponse()
        except OSError:
            h.send_error(502)
            return
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                h.send_header(k, v)
        h.end_headers()
        while line := resp.readline():
            if strip_usage and line.startswith(b"data: {"):
                data = json.loads(line[6:])
                data.pop("usage", None)
                line = b"data: " + json.dumps(data).encode() + b"\n"
            h.wfile.write(line)
            h.wfile.flush()
        conn.close()

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    return free_port()
