"""Starting real servers on 127.0.0.1 for tests: a free port, and waiting until one answers."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx

from tests.conftest import skip_or_fail


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 120) -> None:
    """Poll `url` until it answers 200; skip (or fail under RAG_TESTS_STRICT) if the server dies or hangs."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            skip_or_fail(f"{what} did not start")
        time.sleep(0.3)
