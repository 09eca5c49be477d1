#!/usr/bin/env python3
"""Soak: one JVM (an executor's worth) serves 10,000 rows through its batch
engine (bad and cancelled rows mixed in), then creates and closes a private
model, a predictor and a batch engine 100 times; its resident memory must stay
flat after warm-up.

    bench/soak.py                    # 10,000 rows, 100 cycles
    bench/soak.py --rows 3000 --cycles 30

Prints RSS along the way and the growth after warm-up (first 2,000 rows; first
10 cycles) against the target (<= 5%).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from spark_bench import prepare

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET = 0.05


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--cycles", type=int, default=100)
    a = ap.parse_args()
    jar, spark_home, _, model = prepare(a.model)
    cp = f"{jar}:{spark_home}/jars/*"
    with tempfile.TemporaryDirectory(prefix="resident-soak-") as tmp:
        subprocess.run(["javac", "-d", tmp, "-cp", cp, HERE / "soak" / "Soak.java"], check=True)
        r = subprocess.run(["java", "-Xmx512m", "-cp", f"{tmp}:{cp}", "Soak", model,
                            str(a.rows), str(a.cycles)], text=True, stdout=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit("the soak JVM failed")
    s = json.loads(r.stdout.strip().splitlines()[-1])
    mib = lambda b: b / 1048576
    print(f"rows: {s['ok']} ok, {s['failed']} failed (bad on purpose), {s['cancelled']} cancelled"
          f" (on purpose) of {s['rows']}; engine: {json.dumps(s['engine'])}")
    print("RSS every 1000 rows (MiB): " + " ".join(f"{mib(x):.0f}" for x in s["row_rss"]))
    print("RSS every 10 cycles (MiB): " + " ".join(f"{mib(x):.0f}" for x in s["cycle_rss"]))
    for name, series, warm in (("rows", s["row_rss"], 1), ("cycles", s["cycle_rss"], 0)):
        if len(series) <= warm:
            continue
        growth = series[-1] / series[warm] - 1
        print(f"{name}: RSS growth after warm-up {growth * 100:+.1f}% (target <= "
              f"{TARGET * 100:.0f}%) {'PASS' if growth <= TARGET else 'MISS'}")


if __name__ == "__main__":
    main()
