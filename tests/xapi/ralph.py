"""A real Ralph LRS (ralph-malph 5.1.0) for the tests: its own virtual environment, the file-system
backend, credentials made by ``ralph auth``. No mock.

The virtual environment lives in ``<project>/.ralph-venv`` (git-ignored; ``RALPH_VENV`` moves it):
created once per machine with ``python -m venv`` and ``pip install`` (about a minute), reused
while its stamp names the same requirement. Ralph pins its own FastAPI/pydantic, which is why it
never shares the project's environment.

Facts this relies on (reference/design/xapi-ralph.md): every ``ralph`` command needs
``RALPH_APP_DIR`` and ``RALPH_RUNSERVER_BACKEND=fs``; the server runs uvicorn with a reloader
(two processes: stopped as a process group); the fs backend accepts one POST per store file
(:meth:`Ralph.reset` removes the file so the next test POSTs again) and appends with
``ralph write``; at most 100 statements per page.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from analytics_pipeline.settings import PROJECT_ROOT

REQUIREMENT = "ralph-malph[lrs,backend-fs,cli]==5.1.0"
VENV = Path(os.environ.get("RALPH_VENV", PROJECT_ROOT / ".ralph-venv"))
STORE_FILE = "fs_lrs.jsonl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_venv(venv: Path = VENV) -> Path:
    """The ``ralph`` executable of the Ralph virtual environment, created when missing."""
    stamp = venv / ".installed"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / ".ralph-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test sessions on one machine install once
        if not (stamp.exists() and stamp.read_text() == REQUIREMENT):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            REQUIREMENT, "requests"], check=True, timeout=900)
            stamp.write_text(REQUIREMENT)
    return venv / "bin" / "ralph"


class Ralph:
    """A running Ralph server over a store folder of its own."""

    def __init__(self, workdir: Path, username: str = "pipeline", password: str = "lrs-secret", port: int | None = None):
        self.ralph = ensure_venv()
        self.workdir, self.username, self.password = workdir, username, password
        self.store = workdir / "store"
        self.store.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "RALPH_APP_DIR": str(workdir / ".ralph"), "RALPH_RUNSERVER_BACKEND": "fs"}
        for name in ("PYTHONPATH", "VIRTUAL_ENV"):  # the project's packages must not leak into Ralph's
            self.env.pop(name, None)
        subprocess.run([str(self.ralph), "auth", "-u", username, "-p", password, "-s", "all",
                        "-M", "mailto:pipeline@example.com", "-w"], env=self.env, check=True, capture_output=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / "ralph.log", "wb")
        self.process = subprocess.Popen(
            [str(self.ralph), "runserver", "-b", "fs", "-h", "127.0.0.1", "-p", str(self.port),
             "--fs-default-directory-path", str(self.store)],
            env=self.env, cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ralph runserver exited ({self.process.returncode}); see {self.workdir}/ralph.log")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/__lbheartbeat__", timeout=2).ok:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"Ralph did not answer within {timeout:.0f} s; see {self.workdir}/ralph.log")

    def post(self, statements: list[dict]) -> list[str]:
        """One POST of the whole batch (the fs backend's single write per store file)."""
        from analytics_pipeline.sandbox.xapi_publisher import post

        return post(self.url, self.username, self.password, statements)

    def append(self, statements: list[dict], stored: str | None = None) -> None:
        """Add statements with ``ralph write`` (appends; each keeps its ``stored``, or ``stored`` when given)."""
        from analytics_pipeline.sandbox.xapi_publisher import write_jsonl

        lines = self.workdir / "append.jsonl"
        write_jsonl(lines, statements, stored)
        with open(lines, "rb") as source:
            subprocess.run([str(self.ralph), "write", "-b", "fs", "--fs-default-directory-path", str(self.store),
                            "-t", STORE_FILE, "-o", "append"], stdin=source, env=self.env, check=True,
                           capture_output=True, cwd=self.workdir)

    def reset(self) -> None:
        """An empty LRS again (the store file removed; the next POST creates it)."""
        (self.store / STORE_FILE).unlink(missing_ok=True)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)  # the server and its reloader: our process group
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.log.close()
