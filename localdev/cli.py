"""`dkt-jobs`: the command line for the service (local stack or a deployed API).

dkt-jobs serve                               run the local stack (what `make run` does)
dkt-jobs token --user U --tenant T           print a local bearer token
dkt-jobs generate FILE --lines 18000         write a synthetic DKT file
dkt-jobs import FILE --tarjeta ICBCVC --follow
dkt-jobs status JOB_ID | cancel JOB_ID | jobs
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Column

from localdev.tokens import DEV_JWT_SECRET, issue_local_token

FINAL = {"COMPLETED", "FAILED", "CANCELLED"}
DEFAULT_API = "http://127.0.0.1:8000"

console = Console(stderr=True)


class ApiError(Exception):
    """The API answered with an error; its Spanish message is shown as is."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ApiClient:
    """The service's HTTP API, as the CLI uses it."""

    def __init__(self, base_url: str, token: str, timeout_s: float = 30) -> None:
        self._base = base_url.rstrip("/")
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._timeout = timeout_s

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._session.request(
            method, f"{self._base}{path}", timeout=self._timeout, **kwargs
        )
        body = response.json() if response.content else None
        if response.status_code >= 400:
            message = body.get("message") if isinstance(body, dict) else response.text
            code = body.get("code") if isinstance(body, dict) else None
            raise ApiError(f"{response.status_code}: {message}", code)
        return body

    def create_import(self, **body: Any) -> Any:
        return self._call("POST", "/api/jobs/dkt-import", json=body)

    def job(self, job_id: str) -> Any:
        return self._call("GET", f"/api/jobs/{job_id}")

    def cancel(self, job_id: str) -> Any:
        return self._call("POST", f"/api/jobs/{job_id}/cancel")

    def export(self, lote_id: str, file_format: str) -> Any:
        return self._call("POST", f"/api/lotes/{lote_id}/export", json={"format": file_format})

    def jobs(self, limit: int = 20) -> Any:
        return self._call("GET", f"/api/jobs?limit={limit}")


def upload(presigned: dict[str, Any], path: Path) -> None:
    """POSTs the file to S3 with the presigned form, streaming it from disk."""
    with path.open("rb") as handle:
        response = requests.post(
            presigned["url"],
            data=presigned["fields"],
            files={"file": (path.name, handle)},
            timeout=300,
        )
    if response.status_code not in (200, 201, 204):
        raise ApiError(f"upload refused by S3 ({response.status_code}): {response.text[:200]}")


def follow(client: ApiClient, job_id: str, interval_s: float) -> dict[str, Any]:
    """Polls the job until it is final, with a progress bar; returns the final job."""
    columns = (
        TextColumn("[bold]{task.fields[status]:<10}", table_column=Column(no_wrap=True)),
        BarColumn(bar_width=20),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[speed]}", table_column=Column(no_wrap=True)),
        TextColumn("{task.description}", table_column=Column(no_wrap=True)),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("", total=100, status="QUEUED", speed="")
        while True:
            job: dict[str, Any] = client.job(job_id)
            bar.update(
                task,
                completed=job["progress"],
                description=_fit(job["message"], console.width - FIGURES_WIDTH),
                status=job["status"],
                speed=speed_text(job),
            )
            if job["status"] in FINAL:
                return job
            time.sleep(interval_s)


# What the columns before the message take: status, bar, %, time, rate and ETA.
FIGURES_WIDTH = 80


def _fit(text: str, width: int) -> str:
    """The message cut to what is left of the line (the figures come first)."""
    width = max(width, 24)
    return text if len(text) <= width else text[: width - 1] + "…"


def speed_text(job: dict[str, Any]) -> str:
    """'1.234 líneas/s · faltan ≈ 12 s', as far as the job knows them ('' before it does)."""
    parts = []
    if job.get("rowsPerSecond"):
        parts.append(f"{round(job['rowsPerSecond']):,} líneas/s".replace(",", "."))
    if job.get("etaSeconds") is not None and job["status"] not in FINAL:
        parts.append(f"faltan ≈ {_duration(int(job['etaSeconds']))}")
    return " · ".join(parts)


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _client(args: argparse.Namespace) -> ApiClient:
    token = args.token or os.environ.get("DKT_TOKEN") or issue_local_token("dev", "demo")
    return ApiClient(args.api, token)


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    client = _client(args)
    with path.open("rb") as file:
        sha256 = hashlib.file_digest(file, "sha256").hexdigest()
    try:
        created = client.create_import(
            codigoTarjeta=args.tarjeta,
            filename=path.name,
            size=path.stat().st_size,
            skipInvalidLines=args.skip_invalid,
            replace=args.replace,
            sha256=sha256,
            allowDuplicate=args.allow_duplicate,
            **({"runAt": args.run_at} if args.run_at else {}),
            **({"notifyEmail": True} if args.notify_email else {}),
        )
    except ApiError as exc:
        if exc.code != "DUPLICATE_FILE":
            raise
        console.print(str(exc))
        console.print("Para importarlo de todos modos: --allow-duplicate.")
        return 1
    job_id = created["job"]["id"]
    console.print(f"Job {job_id} creado; subiendo {path.name}...")
    upload(created["upload"], path)
    if not args.follow:
        print(job_id)
        return 0
    job = follow(client, job_id, args.interval)
    console.print(job["message"])
    if job.get("error"):
        for sample in job["error"].get("sample", []):
            field = sample.get("field") or ""
            console.print(f"  línea {sample['lineNo']}: {field} {sample['reason']}")
    print(job_id)
    return 0 if job["status"] == "COMPLETED" else 1


def cmd_export(args: argparse.Namespace) -> int:
    client = _client(args)
    job_id = client.export(args.lote_id, args.format)["job"]["id"]
    console.print(f"Job {job_id} creado: exportando el lote {args.lote_id}...")
    if not args.follow:
        print(job_id)
        return 0
    job = follow(client, job_id, args.interval)
    console.print(job["message"])
    if job["status"] != "COMPLETED":
        print(job_id)
        return 1
    # The job's link lasts minutes: fetched right after the job says it is done.
    output = Path(args.output or job["result"]["filename"])
    with requests.get(job["result"]["downloadUrl"], stream=True, timeout=300) as response:
        response.raise_for_status()
        with output.open("wb") as file:
            for block in response.iter_content(1024 * 1024):
                file.write(block)
    console.print(f"Guardado en {output}")
    print(job_id)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    token = issue_local_token(
        args.user, args.tenant, secret=args.secret, ttl_s=args.ttl, email=args.email
    )
    print(token)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from localdev.dktgen import Layout, write_dkt

    with open(args.file, "wb") as out:
        write_dkt(
            out,
            args.lines,
            layout=Layout(args.layout) if args.layout else None,
            encoding=args.encoding,
            newline="\r\n" if args.crlf else "\n",
            seed=args.seed,
            periodo=args.periodo,
        )
    console.print(f"{args.lines} líneas escritas en {args.file}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    job = _client(args).job(args.job_id)
    print(f"{job['status']} {job['progress']}% {job['message']}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    print(_client(args).cancel(args.job_id)["message"])
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    jobs = _client(args).jobs()["jobs"]
    if not jobs:
        print("No tiene importaciones todavía.")
    for job in jobs:
        print(f"{job['id']}  {job['status']:<10} {job['progress']:>3}%  {job['message']}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from localdev import stack

    stack.main(args.rest)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="dkt-jobs", description=__doc__.splitlines()[0])
    sub = root.add_subparsers(dest="command", required=True)

    def with_api(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        command.add_argument("--api", default=os.environ.get("DKT_API_URL", DEFAULT_API))
        command.add_argument("--token", help="bearer token (default: $DKT_TOKEN or a dev token)")
        return command

    imp = with_api(sub.add_parser("import", help="import a DKT file through the API"))
    imp.add_argument("file")
    imp.add_argument("--tarjeta", required=True, help="card product code, e.g. ICBCVC")
    imp.add_argument("--follow", action="store_true", help="show progress until the job ends")
    imp.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    imp.add_argument("--skip-invalid", action="store_true", help="import the valid lines only")
    imp.add_argument("--replace", action="store_true", help="replace an existing lote")
    imp.add_argument(
        "--run-at",
        metavar="ISO_8601",
        help="start no earlier than this, e.g. 2026-12-05T03:00:00-03:00 (the file goes now)",
    )
    imp.add_argument(
        "--notify-email",
        action="store_true",
        help="e-mail me (the address of my token) when it ends",
    )
    imp.add_argument(
        "--allow-duplicate",
        action="store_true",
        help="import a file already imported into a lote (refused by default)",
    )
    imp.set_defaults(func=cmd_import)

    exp = with_api(sub.add_parser("export", help="export a lote to CSV or XLSX and download it"))
    exp.add_argument("lote_id", help="e.g. ICBCVC2404")
    exp.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    exp.add_argument("--output", help="file to write (default: the export's name)")
    exp.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    exp.add_argument(
        "--follow",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="follow the export and download the file (default); --no-follow only starts it",
    )
    exp.set_defaults(func=cmd_export)

    tok = sub.add_parser("token", help="print a local bearer token")
    tok.add_argument("--user", required=True)
    tok.add_argument("--tenant", required=True)
    tok.add_argument("--ttl", type=int, default=12 * 3600, help="seconds")
    tok.add_argument("--email", help="the user's (verified) address, for --notify-email")
    tok.add_argument("--secret", default=os.environ.get("LOCAL_JWT_SECRET", DEV_JWT_SECRET))
    tok.set_defaults(func=cmd_token)

    gen = sub.add_parser("generate", help="write a synthetic DKT file")
    gen.add_argument("file")
    gen.add_argument("--lines", type=int, default=18_000)
    gen.add_argument("--layout", choices=["36", "38"], help="default: both, mixed")
    gen.add_argument("--encoding", choices=["cp1252", "utf-8"], default="cp1252")
    gen.add_argument("--crlf", action="store_true")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--periodo", default="2404")
    gen.set_defaults(func=cmd_generate)

    for name, func, help_text in [
        ("status", cmd_status, "show a job"),
        ("cancel", cmd_cancel, "cancel a job"),
    ]:
        command = with_api(sub.add_parser(name, help=help_text))
        command.add_argument("job_id")
        command.set_defaults(func=func)
    with_api(sub.add_parser("jobs", help="list your jobs")).set_defaults(func=cmd_jobs)

    serve = sub.add_parser("serve", help="run the local stack")
    serve.add_argument("rest", nargs=argparse.REMAINDER)
    serve.set_defaults(func=cmd_serve)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ApiError as exc:
        console.print(f"[red]Error:[/red] {exc}")
        return 2
    except requests.ConnectionError as exc:
        console.print(f"[red]No se pudo conectar con {getattr(args, 'api', '')}:[/red] {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
