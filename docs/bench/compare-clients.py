#!/usr/bin/env python3
"""Sums up a docs/bench/compare-clients.sh output directory: per client and scenario, the
throughput of each case, and the client's CPU per completed request (all cases of the run
together), with every round listed and the median."""
import glob
import json
import os
import statistics
import sys

out = sys.argv[1]
ticks_per_second = os.sysconf("SC_CLK_TCK")
rows = {}
for cpu_file in sorted(glob.glob(os.path.join(out, "*.cpu"))):
    run = os.path.basename(cpu_file)[: -len(".cpu")]
    client, rest = run.split("-", 1)
    scenario, round_ = rest.rsplit("-", 1)
    user, system = map(float, open(cpu_file).read().split())
    server = int(open(os.path.join(out, run + ".server-ticks")).read()) / ticks_per_second
    # As the script leaves it (<run>/<time>.json), or as kept in docs/bench (<run>.json).
    (result,) = glob.glob(os.path.join(out, run, "2*.json")) or [os.path.join(out, run + ".json")]
    runs = json.load(open(result))["runs"]
    count = sum(r["summary"]["count"] for r in runs)
    errors = sum(r["summary"]["errors"] for r in runs)
    rows.setdefault((scenario, client), []).append(
        {
            "round": int(round_),
            "per_second": {r["case"]: r["summary"]["per_second"] for r in runs},
            "p99_ms": {r["case"]: r["summary"]["p99_ms"] for r in runs},
            "requests": count,
            "errors": errors,
            "client_cpu_us_per_request": round((user + system) / count * 1e6, 2),
            "server_cpu_us_per_request": round(server / count * 1e6, 2),
        }
    )

summary = {}
for (scenario, client), runs in sorted(rows.items()):
    runs.sort(key=lambda r: r["round"])
    cases = runs[0]["per_second"].keys()
    summary.setdefault(scenario, {})[client] = {
        "rounds": runs,
        "median": {
            "per_second": {c: round(statistics.median(r["per_second"][c] for r in runs), 1) for c in cases},
            "client_cpu_us_per_request": statistics.median(r["client_cpu_us_per_request"] for r in runs),
            "server_cpu_us_per_request": statistics.median(r["server_cpu_us_per_request"] for r in runs),
        },
    }
print(json.dumps(summary, indent=1))
