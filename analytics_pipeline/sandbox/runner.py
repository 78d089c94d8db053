"""Run the sandbox: blocking ``serve`` (the CLI) or ``start_in_thread`` (tests, benchmarks)."""
from __future__ import annotations

import dataclasses
import threading

from analytics_pipeline.sandbox.faults import FaultConfig
from analytics_pipeline.sandbox.generator import Platform
from analytics_pipeline.sandbox.profiles import Profile
from analytics_pipeline.sandbox.server import SandboxServer, make_server


@dataclasses.dataclass
class SandboxHandle:
    """A sandbox running in a background thread."""

    server: SandboxServer
    thread: threading.Thread
    token: str

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def platform(self) -> Platform:
        return self.server.platform

    def advance(self, days: float = 1) -> dict:
        """Move the simulated clock; returns the new state (now, visible row counts)."""
        with self.server.clock_lock:
            self.server.platform.advance(days)
        return self.server.platform.state()

    def set_faults(self, **flags) -> FaultConfig:
        """Replace the fault flags (unset flags go back to their defaults)."""
        config = FaultConfig.from_mapping(flags)
        self.server.faults.configure(config)
        return config

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _platform(profile: str | Profile | Platform, seed: int) -> Platform:
    return profile if isinstance(profile, Platform) else Platform(profile, seed)


def start_in_thread(profile: str | Profile | Platform = "XS", seed: int = 42,
                    token: str = "sandbox-token", host: str = "127.0.0.1", port: int = 0,
                    **faults) -> SandboxHandle:
    """Generate (or reuse a given ``Platform``) and serve it from a daemon thread."""
    server = make_server(_platform(profile, seed), token, host, port, FaultConfig.from_mapping(faults))
    thread = threading.Thread(target=server.serve_forever, name="sandbox-lms", daemon=True)
    thread.start()
    return SandboxHandle(server, thread, token)


def serve(port: int, profile: str | Profile | Platform = "XS", seed: int = 42, token: str = "sandbox-token",
          host: str = "127.0.0.1", **faults) -> None:
    """Serve until interrupted (Ctrl-C)."""
    server = make_server(_platform(profile, seed), token, host, port, FaultConfig.from_mapping(faults))
    print(f"sandbox LMS ({server.platform.profile.name}, seed {seed}) on "
          f"http://{host}:{server.server_address[1]}  now={server.platform.state()['now']}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
