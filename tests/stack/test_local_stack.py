"""The local stack as a user runs it: `make run`'s process, then the dkt-jobs command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_stack import ROOT, clean_env, free_port, running_stack

from localdev.tokens import issue_local_token

CLI = [sys.executable, "-m", "localdev.cli"]

pytestmark = pytest.mark.stack


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`dkt-jobs ARGS` as a user runs it; what it printed is kept."""
    return subprocess.run(
        [*CLI, *args], cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def stack_url() -> Iterator[str]:
    with running_stack(budget_ms=3000) as url:
        yield url


def test_cli_imports_an_18000_line_file_with_a_progress_bar(stack_url: str, tmp_path: Path) -> None:
    # GIVEN a generated ordinary statement
    dkt = tmp_path / "abril.dkt"
    subprocess.run([*CLI, "generate", str(dkt), "--lines", "18000"], check=True, cwd=ROOT)
    token = issue_local_token("carla", "demo")
    # WHEN it is imported through the HTTP API, following progress
    import_command = ["import", str(dkt), "--tarjeta", "ICBCVC", "--follow", "--interval", "0.5"]
    result = cli(*import_command, "--api", stack_url, "--token", token)
    # THEN the command succeeds, having shown the bar at 100%
    assert result.returncode == 0, result.stderr
    assert "100%" in result.stderr
    assert "COMPLETED" in result.stderr
    assert "18.000 registros" in result.stderr
    assert re.search(r"\d líneas/s", result.stderr)  # the job's rate, kept at the end
    job_id = result.stdout.strip().splitlines()[-1]
    # ... and the API agrees
    request = urllib.request.Request(
        f"{stack_url}/api/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        job = json.load(response)
    assert job["status"] == "COMPLETED"
    assert job["processedItems"] == job["totalItems"] == 18_000
    # WHEN its lote is exported to CSV through the CLI
    saved = tmp_path / "lote.csv"
    command = ["export", job["loteId"], "--format", "csv", "--follow", "--output", str(saved)]
    exported = cli(*command, "--interval", "0.5", "--api", stack_url, "--token", token)
    # THEN the file is saved with the header and every line
    assert exported.returncode == 0, exported.stderr
    assert "Exportación lista: 18.000 registros" in exported.stderr
    assert saved.read_bytes().count(b"\r\n") == 18_001
    # WHEN the same statement is imported again, to another card code
    again = cli("import", str(dkt), "--tarjeta", "VISACORP", "--api", stack_url, "--token", token)
    # THEN it is refused before the upload, naming the lote it already is
    assert again.returncode == 1, again.stderr
    assert "ya está importado" in again.stderr and job["loteId"] in again.stderr
    assert "--allow-duplicate" in again.stderr
    assert "creado" not in again.stderr  # no job was made


def test_cli_token_command_prints_a_token_the_stack_accepts(stack_url: str) -> None:
    token = subprocess.run(
        [*CLI, "token", "--user", "diego", "--tenant", "demo"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(),
    ).stdout.strip()
    request = urllib.request.Request(
        f"{stack_url}/api/jobs", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response) == {"jobs": [], "nextCursor": None}
    listed = subprocess.run(
        [*CLI, "jobs", "--api", stack_url, "--token", token],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(),
        check=True,
    )
    assert listed.stdout.strip() == "No tiene importaciones todavía."


def test_simultaneous_creates_of_one_user_never_pass_the_active_limit(stack_url: str) -> None:
    # GIVEN one user (limit 5) and twelve creates released at the same instant
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import requests

    headers = {"Authorization": f"Bearer {issue_local_token('carla', 'demo')}"}
    start = threading.Barrier(12)
    body = {"codigoTarjeta": "ICBCVC", "filename": "abril.dkt", "size": 1000}

    def create(_: int) -> int:
        start.wait()
        url = f"{stack_url}/api/jobs/dkt-import"
        return requests.post(url, json=body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(create, range(12)))

    # THEN exactly five were accepted, the rest refused as over the limit, never a 5xx
    assert statuses == [201] * 5 + [429] * 7
    active = requests.get(f"{stack_url}/api/jobs?status=active", headers=headers, timeout=10)
    assert len(active.json()["jobs"]) == 5
    # AND the unknown path of this stack is a 404 in the API's shape, echoing nothing
    unknown = requests.get(f"{stack_url}/api/nope", headers=headers, timeout=10)
    assert unknown.status_code == 404
    assert unknown.json() == {"code": "NOT_FOUND", "message": "La ruta solicitada no existe."}


def test_a_stack_stopped_a_moment_ago_can_start_again_on_the_same_ports() -> None:
    # GIVEN a stack that served requests (its connections linger in TIME_WAIT once stopped)
    ports = (free_port(), free_port())
    token = issue_local_token("elsa", "demo")
    body = {"codigoTarjeta": "ICBCVC", "filename": "abril.dkt", "size": 100}
    with running_stack(5_000, ports) as url:
        request = urllib.request.Request(
            f"{url}/api/jobs/dkt-import",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
    # WHEN it is started again at once, THEN it serves (it said "Port ... in use" for a minute)
    with running_stack(5_000, ports) as url:
        request = urllib.request.Request(
            f"{url}/api/jobs", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response) == {"jobs": [], "nextCursor": None}  # in memory: gone
