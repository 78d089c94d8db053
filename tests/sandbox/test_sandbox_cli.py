"""The command line starts a real server with the given profile, token and faults."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import requests

from analytics_pipeline.orchestration.child_server import wait_until_healthy

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_serves_with_faults():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "analytics_pipeline.sandbox", "--port", str(port), "--profile", "xs",
         "--seed", "5", "--token", "cli-token", "--rate-limit-burst", "1", "--retry-after", "2",
         "--learners", "100"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(process, url, timeout=90)  # a loaded 2-core machine starts Python slowly
        headers = {"Authorization": "Bearer cli-token"}
        first = requests.get(f"{url}/v1/users", headers=headers, timeout=5)
        assert first.status_code == 429 and first.headers["Retry-After"] == "2"
        second = requests.get(f"{url}/v1/users", headers=headers, timeout=5)
        assert second.status_code == 200 and 100 <= len(second.json()["data"]) < 130
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: never leave the server behind
            process.kill()
            process.wait(timeout=30)
