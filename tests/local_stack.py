"""The local stack as `make run` starts it, in a subprocess, for tests that use it whole."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from environment import TEST_ENV

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The user's environment, without what the test session set for moto in-process."""
    return {k: v for k, v in os.environ.items() if k not in TEST_ENV}


def _drain(stream: IO[str], log: Path | None) -> None:
    if log is None:
        for _line in stream:
            pass
        return
    with log.open("a", encoding="utf-8") as out:
        for line in stream:
            out.write(line)
            out.flush()


@contextmanager
def running_stack(
    budget_ms: int, ports: tuple[int, int] | None = None, log: Path | None = None
) -> Iterator[str]:
    """Starts `python -m localdev.stack` on `ports` (API, AWS; free ones by default);
    yields the API's URL. With `log`, everything the stack prints goes to that file, with
    every delivery of its pump and the workers' own log lines."""
    api_port, aws_port = ports or (free_port(), free_port())
    command = [sys.executable, "-m", "localdev.stack", "--api-port", str(api_port)]
    command += ["--aws-port", str(aws_port), "--budget-ms", str(budget_ms)]
    env = clean_env()
    if log is not None:
        command.append("--verbose")
        env["POWERTOOLS_LOG_LEVEL"] = "INFO"
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    banner = []
    for line in process.stdout:
        banner.append(line)
        if "Ctrl-C to stop" in line or time.monotonic() > deadline:
            break
    assert any(f"http://127.0.0.1:{api_port}" in line for line in banner), "".join(banner)
    # Keep reading what the stack prints, so a full pipe can never block it.
    if log is not None:
        log.write_text("".join(banner), encoding="utf-8")
    threading.Thread(target=_drain, args=(process.stdout, log), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{api_port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
