"""A headless Chromium for the UI tests and screenshots: Debian's ``chromium`` package, installed
with apt-get when missing (never a browser build downloaded by Playwright).

    python -m analytics_pipeline.orchestration.browser     # install if needed, print the path
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a quiet, offline, sandbox-less headless run (root in a container has no user namespaces).
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage",
)


class BrowserUnavailable(RuntimeError):
    pass


def ensure_chromium(install: bool = True) -> Path:
    """The path of Debian's Chromium; ``apt-get update`` + ``apt-get install -y chromium`` when it
    is missing and ``install`` is true (needs root, as on the project's machines and CI)."""
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return Path(found)
    if not install:
        raise BrowserUnavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    if not shutil.which("apt-get"):
        raise BrowserUnavailable("Chromium is missing and there is no apt-get to install it (install Debian's chromium).")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise BrowserUnavailable(f"{' '.join(command)} failed ({result.returncode}): {result.stderr[-2000:]}")
    if not CHROMIUM.exists():
        raise BrowserUnavailable(f"apt-get installed chromium but {CHROMIUM} is not there")
    return CHROMIUM


if __name__ == "__main__":
    print(ensure_chromium())
