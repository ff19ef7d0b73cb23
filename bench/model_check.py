"""`model_check_ratio`: is the model's projection what a run really takes?

    python -m bench.model_check LINES SLOWDOWN     (bench.run runs it; one JSON line out)

One import of LINES lines is run twice with every latency SLOWDOWN times the model's:
projected on the model's virtual clock, then measured, with the latencies slept for real
and the service's threads really concurrent. AWS is a moto server in another process
(bench/moto_server.py), as AWS is to a Lambda: with moto in-process, the measured run
also paid moto's CPU under the service's GIL, one request after another and in turn
with the service's own work, and the check read 0.6-0.74 for that reason alone.
Its own process, too: the projected run needs `time.sleep` routed through the model
before the service is imported (aws_model.install_virtual_sleep).
"""

from __future__ import annotations

import json
import os
import sys
import time

from bench import aws_model, pipeline
from bench.aws_model import AwsParameters
from bench.moto_server import environment, moto_server

BUDGET_MS = 900_000


def check(lines: int, slowdown: float) -> dict[str, float]:
    assert "chalicelib.adapters.dynamo" not in sys.modules
    aws_model.install_virtual_sleep()
    pipeline.setup_environment()
    with moto_server() as endpoint:
        os.environ.update(environment(endpoint))
        backend = pipeline.Backend.on_server()
        pipeline.install_rules()
        slowed = AwsParameters().slowed(slowdown)
        projected = pipeline.run_import(backend, lines, "projected", slowed, budget_ms=BUDGET_MS)
        wall = time.perf_counter()
        measured = pipeline.run_import(backend, lines, "measured", slowed, budget_ms=BUDGET_MS)
        return {
            "projected_s": projected.seconds,
            "measured_s": measured.seconds,
            "measured_wall_s": time.perf_counter() - wall,
        }


if __name__ == "__main__":
    print(json.dumps(check(int(sys.argv[1]), float(sys.argv[2]))))
