#!/usr/bin/env bash
# compare-cpu.sh OLD NEW OUT [ROUNDS]: cpu-per-request.sh for two builds in turns (OLD first
# in odd rounds, NEW first in even ones), each on a fresh `seed --bench` database; then one
# line per case with the median of each build's rounds. Raw wrk output and JSON lines under
# OUT/<old|new>-<round>/.
set -euo pipefail
here=$(dirname "$(realpath "$0")")
old=$1 new=$2 out=$3 rounds=${4:-3}
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
  if (( round % 2 )); then order="old new"; else order="new old"; fi
  for which in $order; do
    bin=$old; [ "$which" = new ] && bin=$new
    "$here/cpu-per-request.sh" "$bin" "$out/$which-$round" 1 >/dev/null
  done
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
runs = {}
for which in ("old", "new"):
    for r in range(1, rounds + 1):
        for line in open(f"{out}/{which}-{r}/summary.jsonl"):
            row = json.loads(line)
            runs.setdefault(row["case"], {}).setdefault(which, []).append(row)
summary = []
for case, by in runs.items():
    us = {w: [x["server_us_per_request"] for x in by[w]] for w in by}
    rps = {w: [x["req_per_s"] for x in by[w]] for w in by}
    summary.append({"case": case,
        "old_us": us["old"], "new_us": us["new"],
        "old_req_per_s": rps["old"], "new_req_per_s": rps["new"],
        "us_ratio_median": round(statistics.median(us["new"]) / statistics.median(us["old"]), 3)})
json.dump(summary, open(f"{out}/summary.json", "w"), indent=1)
for s in summary: print(json.dumps(s))
PY
