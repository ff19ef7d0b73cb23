"""`make bench`: every benchmark figure in one table and in build/bench/results.json.

    make bench          (or: python -m bench.run)

Speed is judged on AWS through a stated model of it (bench/aws_model.py): the real
pipeline on in-process moto, each request given AWS's latency, write units and capacity
limits. Every ratio's floor is measured in the same run on the same backend, alternated
with the pipeline, median of 3. The model is checked against itself: a 100,000-line
import is run twice, once on the model's virtual clock (projected) and once with its
latencies slept for real and its writes on real threads (measured), both with latencies
`CHECK_SLOWDOWN` times the model's and AWS a moto server in another process
(bench/model_check.py), and the two durations must agree (0.8-1.25).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench import aws_model, pipeline
from bench.aws_model import NEW_TABLE_WCU_PER_S, AwsParameters

# BENCH_QUICK=1: a smoke run of the whole bench with small files (figures not comparable).
QUICK = os.environ.get("BENCH_QUICK") == "1"
LINES_18K = 2_000 if QUICK else 18_000
LINES_CHECK = 5_000 if QUICK else 100_000
MEMORY_SIZES = ("2000", "4000") if QUICK else ("18000", "200000")
REPEAT = 3
# The check's latencies, times the model's: in-process moto's own CPU for the batches a
# chunk has in flight (~4 ms each, serial under the GIL) must stay below the latencies it
# is slept against, or the measured run times moto rather than the model (bench/README.md).
CHECK_SLOWDOWN = 4.0
WORKER_BUDGET_MS = 900_000  # the Lambda maximum; the 10 s figures come from their own run

# Prices: us-east-1, on-demand, as published on the AWS pricing pages (DynamoDB's
# on-demand prices since the cut of 2024-11-01); checked 2026-12 against the figure.
PRICES = {
    "region": "us-east-1",
    "date": "2024-11-01",
    "dynamodb_per_million_wru": 0.625,
    "dynamodb_per_million_rru": 0.125,
    "s3_per_thousand_get": 0.0004,
    "sqs_per_million_requests": 0.40,
    "lambda_per_million_invocations": 0.20,
    "lambda_per_gb_second": 0.0000166667,
    "worker_memory_gb": 1.0,  # .chalice/config.json: process_work has 1,024 MB
}

Metric = dict[str, Any]


def metric(
    name: str,
    value: float,
    unit: str,
    floor: float | None = None,
    target: str | None = None,
    **extra: Any,
) -> Metric:
    ratio = None
    if floor:
        ratio = round(value / floor, 3)
    return {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "floor": None if floor is None else round(floor, 4),
        "ratio": ratio,
        "target": target,
        **extra,
    }


def alternated(backend: pipeline.Backend, mode: str | None) -> dict[str, Any]:
    """Pipeline and floor, alternated, REPEAT times: medians and the last run's stats."""
    imports, floors, runs = [], [], []
    for _ in range(REPEAT):
        run = pipeline.run_import(backend, LINES_18K, mode, budget_ms=WORKER_BUDGET_MS)
        items = [item for item in backend.stored_lines()]
        backend.empty()
        pipeline.install_rules()
        floors.append(pipeline.run_floor(backend, items, mode, None))
        backend.empty()
        pipeline.install_rules()
        imports.append(run.seconds)
        runs.append(run)
    return {
        "import_s": statistics.median(imports),
        "floor_s": statistics.median(floors),
        "runs": runs,
    }


def _invocation_metrics(run: pipeline.Run, budget: str, scale: float) -> list[Metric]:
    return [
        metric(
            f"invocations_per_100k_lines_{budget}",
            len(run.invocations) * scale,
            "invocations",
            target="<= 10" if budget == "900s" else None,
            measured_lines=run.lines,
        ),
        metric(
            f"longest_invocation_share_{budget}",
            max(run.invocations) / run.budget_s,
            "share of budget",
            target="<= 1",
        ),
    ]


def _cost_per_million(run: pipeline.Run) -> float:
    assert run.model is not None
    stats = run.model.stats
    requests = stats.requests
    s3_gets = requests["s3.GetObject"] + requests["s3.HeadObject"]
    # Each message is also received and deleted by Lambda's event source mapping.
    sqs = 3 * (requests["sqs.SendMessage"] + requests["sqs.SendMessageBatch"]) + 3
    cost = (
        sum(stats.wcu.values()) * PRICES["dynamodb_per_million_wru"] / 1e6
        + stats.rcu * PRICES["dynamodb_per_million_rru"] / 1e6
        + s3_gets * PRICES["s3_per_thousand_get"] / 1e3
        + sqs * PRICES["sqs_per_million_requests"] / 1e6
        + (len(run.invocations) + 1) * PRICES["lambda_per_million_invocations"] / 1e6
        + sum(run.invocations) * PRICES["worker_memory_gb"] * PRICES["lambda_per_gb_second"]
    )
    return cost * 1e6 / run.lines


def _breakdown(run: pipeline.Run) -> dict[str, float]:
    assert run.model is not None
    per_100 = 100 / run.lines
    requests = run.model.stats.requests
    return {name: round(count * per_100, 3) for name, count in sorted(requests.items())}


def _request_metric(plain: dict[str, Any], modelled: dict[str, Any]) -> Metric:
    """The service's own requests (plain moto: nothing throttled), and under the model
    (throttled batch writes re-sent)."""
    run, under_model = plain["runs"][-1], modelled["runs"][-1]
    assert run.model is not None and under_model.model is not None
    return metric(
        "requests_per_100_lines",
        run.model.stats.total_requests() * 100 / run.lines,
        "requests",
        floor=4.0,
        target="<= 5.0",
        breakdown=_breakdown(run),
        under_model=round(under_model.model.stats.total_requests() * 100 / under_model.lines, 3),
        breakdown_under_model=_breakdown(under_model),
    )


def _model_metrics(model_runs: dict[str, Any], lines_table: str) -> list[Metric]:
    run: pipeline.Run = model_runs["runs"][-1]
    assert run.model is not None
    stats = run.model.stats
    lines_floor = LINES_18K / model_runs["floor_s"]
    lines_rate = LINES_18K / model_runs["import_s"]
    return [
        metric(
            "throughput_ratio",
            lines_rate,
            "lines/s",
            floor=lines_floor,
            target="ratio >= 0.8",
        ),
        metric("model_18k_seconds", model_runs["import_s"], "s", target="<= 5"),
        metric(
            "wru_per_line",
            stats.wcu[lines_table] / max(stats.items_written[lines_table], 1),
            "WRU",
            floor=1.0,
            target="<= 1.05",
        ),
        metric(
            "s3_bytes_read_per_file_byte",
            stats.s3_bytes_read / run.file_bytes,
            "bytes/byte",
            floor=1.0,
        ),
        metric(
            "max_partition_wcu_per_s",
            stats.max_partition_rate(),
            "WCU/s asked",
            floor=1000.0,
            target="<= 1000",
            accepted=stats.max_partition_rate(accepted=True),
            throttled_items=stats.throttled_items,
        ),
    ]


def _model_check() -> dict[str, float]:
    """bench/model_check.py in its own process, against its own moto server."""
    ran = subprocess.run(
        [sys.executable, "-m", "bench.model_check", str(LINES_CHECK), str(CHECK_SLOWDOWN)],
        cwd=pipeline.ROOT,
        capture_output=True,
        text=True,
    )
    if ran.returncode != 0:
        raise RuntimeError(f"model check failed:\n{ran.stderr[-3000:]}")
    result: dict[str, float] = json.loads(ran.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    # Before the service binds time.sleep as a default argument (see aws_model).
    assert "chalicelib.adapters.dynamo" not in sys.modules
    aws_model.install_virtual_sleep()
    started = time.perf_counter()
    from bench import bench_parse_rules

    metrics: list[Metric] = []
    # The memory figure needs AWS in another process (a moto server), which makes it the
    # slowest part: it runs alongside the rest (both cores busy; the ratios below are
    # alternated with their floors, so both sides see the same load).
    print("memory: worker processes against a moto server, in the background", flush=True)
    memory_bench = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_memory", "--json", *MEMORY_SIZES],
        cwd=pipeline.ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    parse = bench_parse_rules.measure()
    metrics.append(
        metric(
            "parse_rules_lines_per_s",
            parse["parse + 20 rules"],
            "lines/s",
            floor=parse["floor"],
            target=">= 20000",
        )
    )
    pipeline.setup_environment()
    backend = pipeline.Backend.start()
    pipeline.install_rules()
    lines_table = backend.lines_table()
    print("18,000 lines under the AWS model, alternated with the floor...", flush=True)
    modelled = alternated(backend, "projected")
    metrics += _model_metrics(modelled, lines_table)
    print("18,000 lines on plain moto, alternated with the floor...", flush=True)
    plain = alternated(backend, "plain")
    metrics.append(
        metric(
            "moto_throughput_ratio",
            LINES_18K / plain["import_s"],
            "lines/s",
            floor=LINES_18K / plain["floor_s"],
        )
    )
    metrics.insert(4, _request_metric(plain, modelled))
    print("18,000 lines, 10 s budget...", flush=True)
    short = pipeline.run_import(backend, LINES_18K, "projected", budget_ms=10_000)
    backend.empty()
    pipeline.install_rules()
    metrics += _invocation_metrics(short, "10s", LINES_CHECK / LINES_18K)

    print("100,000 lines projected; then the check (AWS: a moto server)...", flush=True)
    projected = pipeline.run_import(backend, LINES_CHECK, "projected", budget_ms=WORKER_BUDGET_MS)
    backend.empty()
    pipeline.install_rules()
    metrics += _invocation_metrics(projected, "900s", 1.0)
    check = _model_check()
    metrics.append(
        metric(
            "model_check_ratio",
            check["projected_s"] / check["measured_s"],
            "x",
            target="0.8-1.25",
            latencies=f"x{CHECK_SLOWDOWN:g}",
            aws="moto server, another process",
            projected_s=round(check["projected_s"], 1),
            measured_s=round(check["measured_s"], 1),
            measured_run_wall_s=round(check["measured_wall_s"], 1),
        )
    )
    print("100,000 lines on a new table (4,000 WCU/s)...", flush=True)
    cold = pipeline.run_import(
        backend,
        LINES_CHECK,
        "projected",
        AwsParameters(table_wcu_per_s=NEW_TABLE_WCU_PER_S),
        budget_ms=WORKER_BUDGET_MS,
    )
    scale = 1_000_000 / LINES_CHECK
    metrics.append(metric("projected_1m_seconds", projected.seconds * scale, "s", table="warmed"))
    metrics.append(metric("projected_1m_cold_seconds", cold.seconds * scale, "s", table="new"))
    floor_cost = PRICES["dynamodb_per_million_wru"]
    metrics.append(
        metric(
            "cost_per_million_lines_usd",
            _cost_per_million(projected),
            "USD",
            floor=floor_cost,
            target="ratio <= 1.15",
            prices=PRICES,
        )
    )
    backend.state.stop()
    output = memory_bench.communicate()[0]
    failed = memory_bench.returncode != 0
    if failed:  # its error is above; every other figure is still written
        metrics.append(metric("worker_peak_rss_ratio", float("nan"), "x", target="<= 1.2"))
        metrics[-1].update(value=None, error="bench_memory failed")
    else:
        memory = json.loads(output.splitlines()[-1])
        small, large = (memory[size] for size in MEMORY_SIZES)
        metrics.append(
            metric(
                "worker_peak_rss_ratio",
                large["peak"] / small["peak"],
                "x",
                target="<= 1.2",
                peak_mib_small=round(small["peak"] / 1024, 1),
                peak_mib_large=round(large["peak"] / 1024, 1),
                sizes=MEMORY_SIZES,
            )
        )
    total = time.perf_counter() - started
    metrics.append(metric("bench_seconds", total, "s", target="< 1200"))
    report = {
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip()
        + f", Python {platform.python_version()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": metrics,
    }
    out = pipeline.ROOT / "build" / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"written: {out.relative_to(pipeline.ROOT)}")
    return 1 if failed else 0


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def print_table(report: dict[str, Any]) -> None:
    print(f"\nmachine: {report['machine']}   date: {report['date']}")
    header = f"{'metric':<36}{'value':>12} {'unit':<16}{'floor':>10}{'ratio':>8}  target"
    print(header)
    print("-" * len(header))
    for entry in report["metrics"]:
        print(
            f"{entry['name']:<36}{_number(entry['value']):>12} {entry['unit']:<16}"
            f"{_number(entry['floor']):>10}{_number(entry['ratio']):>8}  {entry['target'] or ''}"
        )
        for name, value in entry.get("breakdown", {}).items():
            print(f"  {name:<34}{value:>12.3f}")


if __name__ == "__main__":
    sys.exit(main())
