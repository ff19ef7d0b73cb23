"""What the load run needs from the app's own code, run with the app's venv (.venv).

    .venv/bin/python load/prepare.py OUT_DIR --lines 18000 --seed 12 --importers 20

Writes OUT_DIR/load-{lines}-{seed}.dkt (localdev.dktgen.generate_bytes) unless it is
already there, and prints one JSON object: the file's path and size, the totals per
currency an import of it must book, and a local bearer token per importer user (one
user id each: the API allows 5 active imports per user).
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localdev.dktgen import generate_bytes, iter_coupons  # noqa: E402
from localdev.tokens import issue_local_token  # noqa: E402

TENANT = "load"
PERIODO = "2404"  # dktgen's default: every importer's lote is its own code + this period


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--lines", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--importers", type=int, required=True)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"load-{args.lines}-{args.seed}.dkt"
    if not path.exists():
        partial = path.with_suffix(".part")
        partial.write_bytes(generate_bytes(args.lines, seed=args.seed, periodo=PERIODO))
        partial.replace(path)
    totals: dict[str, Decimal] = {}
    for coupon in iter_coupons(args.lines, seed=args.seed, periodo=PERIODO):
        key = coupon.moneda.value
        totals[key] = totals.get(key, Decimal("0")) + coupon.importe_con_signo
    importers = []
    for index in range(1, args.importers + 1):
        user = f"load-user-{index:03d}"
        importers.append(
            {
                "user": user,
                "codigo": f"LOAD{index:03d}",  # ^[A-Z0-9]{2,12}$; its lote: LOAD0012404
                "token": issue_local_token(user, TENANT),
            }
        )
    print(
        json.dumps(
            {
                "file": str(path),
                "size": path.stat().st_size,
                "lines": args.lines,
                "seed": args.seed,
                "periodo": PERIODO,
                "tenant": TENANT,
                "totals": {k: str(v) for k, v in sorted(totals.items())},
                "importers": importers,
            }
        )
    )


if __name__ == "__main__":
    main()
