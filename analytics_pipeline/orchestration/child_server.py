"""Waiting for an HTTP server started as a child process (the sandbox LMS) to answer."""
from __future__ import annotations

import contextlib
import subprocess
import time

import requests


def wait_until_healthy(process: subprocess.Popen, url: str, timeout: float, poll_seconds: float = 0.2) -> None:
    """Return once ``url``/healthz answers; RuntimeError when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/healthz", timeout=2).ok:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer within {timeout:.0f} s")
        time.sleep(poll_seconds)
