"""Memory of the worker against file size: the file is streamed, never loaded (guarantee 6).

    make bench

AWS is a moto server in its own process, so the emulated S3 object and DynamoDB items
live there, not in the worker. For each file size, a fresh worker process imports the
whole file in one invocation (the worst case for memory) through the real handler
code, and reports its resident memory before the work (the floor: interpreter,
libraries, clients) and its peak during it. If the worker loaded the file, or kept
lines across chunks, the working memory (peak - floor) would grow with the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.moto_server import environment, moto_server

ROOT = Path(__file__).resolve().parents[1]
SIZES = (4_000, 40_000)


def _rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _peak_rss_kib() -> int:
    """This process's own resident high-water mark. Not ru_maxrss: a child's starts from
    its parent's at fork, so it would report the parent's memory when that was larger."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def worker(endpoint: str, job_id: str) -> None:
    """Child process: run the job's first work message to the end, report memory."""
    os.environ.update(environment(endpoint))
    import tracemalloc

    from chalicelib import runtime
    from chalicelib.adapters import aws
    from chalicelib.engine import lifecycle, runner
    from chalicelib.stores import rule_sets

    services = runtime.services()
    job = lifecycle.get(job_id)
    assert job is not None and job.upload_key
    # Warm up every client first: loading botocore's service models is a one-off cost
    # of a cold Lambda, whatever the file.
    services.store.head(job.upload_key)
    aws.sqs_client().get_queue_attributes(QueueUrl=services.settings.work_queue_url)
    rule_sets.current_version(job.tenant_id)
    tracemalloc.start()
    floor, heap_floor = _rss_kib(), tracemalloc.get_traced_memory()[0]
    report = runner.handle(lifecycle.message_for(job), services, lambda: 10**9)
    heap_peak = tracemalloc.get_traced_memory()[1]
    peak = _peak_rss_kib()
    final = lifecycle.get(job_id)
    assert final is not None and final.status == "COMPLETED", final and final.message
    print(
        json.dumps(
            {
                "floor": floor,
                "peak": peak,
                "heap": (heap_peak - heap_floor) // 1024,
                "chunks": report.chunks,
            }
        )
    )


def prepare(endpoint: str, lines: int) -> str:
    """Parent: resources, an accepted upload of `lines` lines; returns the job id."""
    from chalicelib import runtime
    from chalicelib.adapters.auth import Identity
    from chalicelib.core.models import JobType
    from chalicelib.engine import lifecycle
    from chalicelib.jobtypes.dkt_upload import accept_upload
    from localdev.dktgen import generate_bytes

    services = runtime.services()
    data = generate_bytes(lines, seed=1)
    owner = Identity("bench", "bench")
    job_id = lifecycle.new_job_id(services.new_id)
    key = services.store.upload_key(owner.tenant_id, owner.user_id, job_id, "f.dkt")
    job = lifecycle.create(
        job_type=JobType.DKT_IMPORT,
        owner=owner,
        parameters={
            "codigoTarjeta": f"B{lines}",
            "filename": "f.dkt",
            "size": len(data),
            "skipInvalidLines": False,
            "replace": False,
            "source": "upload",
        },
        message="Esperando el archivo...",
        ttl_days=services.settings.job_ttl_days,
        upload_key=key,
        job_id=job_id,
        clock=services.clock,
    )
    services.store.put(key, data)
    accept_upload(job, services)
    return job_id


def measure(sizes: tuple[int, ...] = SIZES) -> dict[int, dict[str, int]]:
    """For each size, the worker's memory importing a file of that many lines."""
    with moto_server() as endpoint:
        os.environ.update(environment(endpoint))
        from chalicelib import runtime
        from chalicelib.core.settings import get_settings
        from localdev.resources import create_resources

        create_resources(get_settings())
        runtime.reset()
        results = {}
        for lines in sizes:
            job_id = prepare(endpoint, lines)
            child = subprocess.run(
                [sys.executable, "-m", "bench.bench_memory", "--worker", endpoint, job_id],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            if child.returncode != 0:
                raise RuntimeError(f"worker for {lines} lines failed:\n{child.stderr[-3000:]}")
            results[lines] = json.loads(child.stdout.strip().splitlines()[-1])
    return results


def main() -> int:
    results = measure(SIZES)
    print("worker process, one invocation importing the whole file (AWS: a moto server)")
    print(f"{'lines':>8}{'chunks':>8}{'RSS floor':>11}{'RSS peak':>10}{'heap peak':>11}  (MiB)")
    for lines, result in results.items():
        print(
            f"{lines:>8,}{result['chunks']:>8}{result['floor'] / 1024:>11.1f}"
            f"{result['peak'] / 1024:>10.1f}{result['heap'] / 1024:>11.1f}"
        )
    small, large = (results[size] for size in SIZES)
    growth = large["heap"] / max(small["heap"], 1)
    ratio = SIZES[1] // SIZES[0]
    print(
        f"file {ratio}x larger -> peak Python heap above the floor x{growth:.2f} "
        f"(streamed: ~1; file loaded: ~{ratio})"
    )
    return 0 if growth < 2 else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 2 and sys.argv[1] == "--json":
        # For bench.run: the figures of the given sizes, as one JSON line.
        print(json.dumps(measure(tuple(int(size) for size in sys.argv[2:]))))
    else:
        sys.exit(main())
