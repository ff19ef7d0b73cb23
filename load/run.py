"""`make load`: the local stack under import and polling load, measured.

    .venv-load/bin/python load/run.py        (what `make load` runs)

1. load/prepare.py (with the app's .venv) writes a LOAD_LINES-line DKT file with
   localdev.dktgen into build/load/ and issues one local token per importer user;
2. the local stack starts as `make run` starts it, on free loopback ports;
3. locust (headless, this venv) runs load/locustfile.py: LOAD_IMPORTERS users each
   import the file while LOAD_POLLERS clients poll the jobs every LOAD_POLL_S;
   it stops when every import has ended, or at LOAD_MAX_MINUTES;
4. the stack is stopped, the figures printed and written to build/load/results.json.

Exits 1 if any import did not end COMPLETED with exact counts (job, result, lote), any
request failed, a poll saw progress go down, or the stack logged an error.

Settings (environment): LOAD_IMPORTERS=20 LOAD_LINES=18000 LOAD_POLLERS=200
LOAD_POLL_S=2 LOAD_MAX_MINUTES=30 (at most 120) LOAD_BUDGET_MS=5000 (each worker
invocation's time budget, as `python -m localdev.stack --budget-ms`) LOAD_SEED=12
LOAD_SPAWN_RATE=20 (users started per second).
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "load"
APP_PYTHON = ROOT / ".venv" / "bin" / "python"
MAX_MINUTES_CAP = 120


def _setting(name: str, default: float, low: float, high: float) -> float:
    value = float(os.environ.get(name, default))
    if not low <= value <= high:
        raise SystemExit(f"{name}={value} is outside {low}..{high}")
    return value


def settings() -> dict[str, Any]:
    return {
        "importers": int(_setting("LOAD_IMPORTERS", 20, 1, 200)),
        "lines": int(_setting("LOAD_LINES", 18_000, 1, 1_000_000)),
        "pollers": int(_setting("LOAD_POLLERS", 200, 0, 2_000)),
        "poll_s": _setting("LOAD_POLL_S", 2, 0.1, 60),
        "max_minutes": _setting("LOAD_MAX_MINUTES", 30, 1, MAX_MINUTES_CAP),
        "budget_ms": int(_setting("LOAD_BUDGET_MS", 5_000, 3_000, 900_000)),
        "seed": int(_setting("LOAD_SEED", 12, 0, 2**31)),
        "spawn_rate": _setting("LOAD_SPAWN_RATE", 20, 0.1, 1_000),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine() -> dict[str, Any]:
    cpu = ""
    memory_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
    }


def prepare(config: dict[str, Any]) -> dict[str, Any]:
    command = [str(APP_PYTHON), str(ROOT / "load" / "prepare.py"), str(OUT)]
    command += ["--lines", str(config["lines"]), "--seed", str(config["seed"])]
    command += ["--importers", str(config["importers"])]
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    prepared: dict[str, Any] = json.loads(done.stdout)
    return prepared


class Stack:
    """`python -m localdev.stack` on free ports, its output kept in build/load/stack.log."""

    def __init__(self, budget_ms: int) -> None:
        self.api_port, self.aws_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.log_path = OUT / "stack.log"
        command = [str(APP_PYTHON), "-m", "localdev.stack", "--api-port", str(self.api_port)]
        command += ["--aws-port", str(self.aws_port), "--budget-ms", str(budget_ms)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._log = self.log_path.open("w")
        self._lines = 0
        self._until: int | None = None
        assert self.process.stdout is not None
        banner = self._read_banner(self.process.stdout)
        if f"http://127.0.0.1:{self.api_port}" not in banner or "Ctrl-C to stop" not in banner:
            self.stop()
            raise SystemExit(f"the local stack did not start:\n{banner}")
        # Keep reading what the stack prints, so a full pipe can never block it.
        threading.Thread(target=self._tee, args=(self.process.stdout,), daemon=True).start()

    def _read_banner(self, stream: IO[str]) -> str:
        deadline = time.monotonic() + 90
        banner = []
        for line in stream:
            banner.append(line)
            self._log.write(line)
            self._lines += 1
            if "Ctrl-C to stop" in line or time.monotonic() > deadline:
                break
        self._log.flush()
        return "".join(banner)

    def _tee(self, stream: IO[str]) -> None:
        for line in stream:
            if self._log.closed:
                return
            self._log.write(line)
            self._log.flush()
            self._lines += 1

    def stop(self) -> None:
        # What the stack logs once it is told to stop (a worker cut off from moto) is no
        # finding: errors() reads the log up to here.
        self._until = self._lines
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        time.sleep(0.5)
        self._log.close()

    def errors(self) -> list[str]:
        """What the stack logged as an error: the app's ERROR records, and the exceptions
        of request threads, except a client that hung up first (a poll cut short when
        locust stops: BrokenPipe or ConnectionReset while answering it)."""
        lines = self.log_path.read_text(errors="replace").split("\n")
        return logged_errors(lines[: self._until])


HUNG_UP = ("BrokenPipeError", "ConnectionResetError")


EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def logged_errors(lines: list[str]) -> list[str]:
    # Threads print their tracebacks interleaved: what counts is each one's last line.
    return [
        line
        for line in lines
        if '"level":"ERROR"' in line
        or line.startswith(("ERROR:", "CRITICAL:"))
        or (EXCEPTION.match(line) and not line.startswith(HUNG_UP))
    ]


def run_locust(config: dict[str, Any], prepared: dict[str, Any], host: str) -> int:
    locust_config = {**prepared, "poll_s": config["poll_s"], "pollers": config["pollers"]}
    config_path = OUT / "locust-config.json"
    config_path.write_text(json.dumps(locust_config))
    summary_path = OUT / "summary.json"
    summary_path.unlink(missing_ok=True)
    users = config["importers"] + config["pollers"]
    run_minutes = config["max_minutes"]
    command = [sys.executable, "-m", "locust", "-f", str(ROOT / "load" / "locustfile.py")]
    command += [
        "--headless",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        str(config["spawn_rate"]),
    ]
    command += ["--run-time", f"{int(run_minutes * 60)}s", "--stop-timeout", "5"]
    command += ["--only-summary", "--loglevel", "WARNING", "--csv", str(OUT / "locust")]
    env = {**os.environ, "DKT_LOAD_CONFIG": str(config_path), "DKT_LOAD_SUMMARY": str(summary_path)}
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        return process.wait(timeout=run_minutes * 60 + 120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        return -9


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU a running process has used (Linux), to show who was busy."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds(pid: int) -> float:
    """CPU of the processes the stack started (moto server, if it runs in its own)."""
    total = 0.0
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            total += cpu_seconds(int(child)) or 0.0
    return round(total, 1)


def _seconds_between(first: str | None, last: str | None) -> float | None:
    if not first or not last:
        return None
    return (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()


def report(
    config: dict[str, Any],
    summary: dict[str, Any],
    stack_errors: list[str],
    wall_s: float,
    locust_rc: int,
) -> dict[str, Any]:
    imports = summary["imports"]
    created = [i["createdAt"] for i in imports if i.get("createdAt")]
    completed = [i["completedAt"] for i in imports if i.get("completedAt")]
    imports_s = _seconds_between(min(created), max(completed)) if created and completed else None
    per_import = [_seconds_between(i.get("createdAt"), i.get("completedAt")) for i in imports]
    per_import_s = sorted(s for s in per_import if s is not None)
    lines_done = sum(int(i.get("linesImported") or 0) for i in imports)
    problems = []
    bad = [i for i in imports if not i.get("ok")]
    if bad:
        problems.append(f"{len(bad)} of {len(imports)} imports not COMPLETED with exact counts")
    if summary["request_failures"]:
        problems.append(f"{summary['request_failures']} requests failed")
    if summary["anomalies"]:
        problems.append(f"{len(summary['anomalies'])} polls saw progress go down")
    if stack_errors:
        problems.append(f"the stack logged {len(stack_errors)} error lines (build/load/stack.log)")
    if locust_rc not in (0, 1):  # 1: locust's own exit code when a request failed
        problems.append(f"locust exited {locust_rc}")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": config,
        "ok": not problems,
        "problems": problems,
        "wall_seconds": round(wall_s, 1),
        "locust_seconds": summary["locust_seconds"],
        "imports_seconds": None if imports_s is None else round(imports_s, 1),
        "import_seconds_min_max": [per_import_s[0], per_import_s[-1]] if per_import_s else None,
        "lines_imported": lines_done,
        # Counting the unfinished imports too, as last polled (for a run cut short).
        "lines_processed": sum(int(i.get("processedItems") or 0) for i in imports),
        "lines_per_second": round(lines_done / imports_s, 1) if imports_s else None,
        "status_call": summary["status_call"],
        "requests": summary["requests"],
        "request_failures": summary["request_failures"],
        "failures": summary["failures"],
        "anomalies": summary["anomalies"][:50],
        "stack_error_lines": stack_errors[:50],
        "endpoints": summary["endpoints"],
        "imports": imports,
    }


def show(results: dict[str, Any]) -> None:
    status = results["status_call"]
    config = results["config"]
    print()
    print(f"make load, {results['date']} on {results['machine']['hostname']}")
    print(
        f"  {config['importers']} imports of {config['lines']:,} lines, {config['pollers']} "
        f"pollers every {config['poll_s']:g} s, worker budget {config['budget_ms']} ms"
    )
    print(
        f"  wall {results['wall_seconds']:.0f} s; imports (first created -> last completed) "
        f"{results['imports_seconds']} s, {results['lines_per_second']} lines/s"
    )
    print(
        f"  {status['name']}: {status['samples']:,} calls, p50 {status['p50_ms']:.0f} ms, "
        f"p95 {status['p95_ms']:.0f} ms, p99 {status['p99_ms']:.0f} ms, "
        f"max {status['max_ms']:.0f} ms"
        if status["samples"]
        else f"  {status['name']}: no successful calls"
    )
    print(
        f"  lines imported {results['lines_imported']:,} (processed, counting unfinished "
        f"imports: {results['lines_processed']:,}) in {results['locust_seconds']:.0f} s of load"
    )
    print(f"  requests {results['requests']:,}, failed {results['request_failures']}")
    cpu = results.get("cpu_seconds") or {}
    print(
        f"  CPU seconds: stack {cpu.get('stack')} (+ {cpu.get('stack_children')} in its child "
        f"processes), locust {cpu.get('locust')}"
    )
    for item in results["imports"]:
        if not item.get("ok"):
            print(f"  {item.get('user')} job {item.get('jobId')}: {'; '.join(item['problems'])}")
    for failure in results["failures"]:
        print(f"  failure x{failure['occurrences']}: {failure['name']}: {failure['error'][:200]}")
    for line in results["anomalies"][:10] + results["stack_error_lines"][:10]:
        print(f"  {line[:200]}")
    print(f"  {'OK' if results['ok'] else 'FAILED: ' + '; '.join(results['problems'])}")
    print("  -> build/load/results.json")


def main() -> int:
    began = time.monotonic()
    config = settings()
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"[load] preparing {config['lines']:,}-line file and {config['importers']} tokens")
    prepared = prepare(config)
    print(f"[load] {prepared['file']} ({prepared['size']:,} bytes); starting the local stack")
    stack = Stack(config["budget_ms"])
    try:
        print(f"[load] stack at {stack.url}; locust for at most {config['max_minutes']:g} min")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        locust_rc = run_locust(config, prepared, stack.url)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = {
            "stack": cpu_seconds(stack.process.pid),
            "stack_children": children_cpu_seconds(stack.process.pid),
            "locust": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        }
    finally:
        stack.stop()
    summary_path = OUT / "summary.json"
    if not summary_path.exists():
        print(f"[load] locust wrote no summary (exit {locust_rc})")
        return 1
    summary = json.loads(summary_path.read_text())
    results = report(config, summary, stack.errors(), time.monotonic() - began, locust_rc)
    results["cpu_seconds"] = cpu
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    show(results)
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
