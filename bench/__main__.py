"""``python -m bench all|<one benchmark>|memory|report [--quick]`` (the benchmarks: see ORDER).

Each benchmark starts what it needs, runs, tears it down and stores its figures in
bench/out/results.json; then docs/benchmarks.md and docs/bench/*.png are written
from every stored result (a benchmark run alone keeps the others' last figures).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench import (
    canary,
    drain,
    escalation,
    failover,
    ingest,
    latency,
    machine,
    peer,
    procs,
    profile,
    report,
    report_cost,
    storm,
)

BENCHMARKS = {
    "ingest": ingest.run,
    "latency": latency.run,
    "storm": storm.run,
    "escalation": escalation.run,
    "peer": peer.run,
    "profile": profile.run,
    "report_cost": report_cost.run,
    "failover": failover.run,
    "drain": drain.run,
    "canary": canary.run,
}
ORDER = (
    "ingest",
    "latency",
    "storm",
    "escalation",
    "peer",
    "profile",
    "report_cost",
    "failover",
    "drain",
    "canary",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["all", *ORDER, "memory", "report"])
    parser.add_argument("--quick", action="store_true", help="small sizes, for development (about 5 min)")
    parser.add_argument(
        "--storm-payloads", type=int, help="storm size in 10-alert payloads (default 1000, quick 100)"
    )
    parser.add_argument("--latency-alerts", type=int, help="alerts per latency series (default 1000)")
    parser.add_argument("--escalation-incidents", type=int, help="incidents (default 200, quick 40)")
    parser.add_argument("--peer-requests", type=int, help="requests to each side (default 500)")
    parser.add_argument("--failover-rounds", type=int, help="Sentinel failovers (default 5, quick 2)")
    parser.add_argument(
        "--responder-tree",
        help="measure the responder of another checkout (say, main before a change) with this harness; "
        'its figures are stored as the "before" beside this checkout\'s',
    )
    args = parser.parse_args(argv)

    overrides: dict[str, dict[str, Any]] = {
        "storm": {"payloads": args.storm_payloads},
        "latency": {"alerts": args.latency_alerts},
        "escalation": {"incidents": args.escalation_incidents},
        "peer": {"requests": args.peer_requests},
        "failover": {"rounds": args.failover_rounds},
    }
    if args.which == "report":
        report.write(report.load())
        return 0
    names = list(ORDER) if args.which == "all" else ["storm" if args.which == "memory" else args.which]
    command = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    stored = report.load()
    stored["machine"] = machine.describe()
    target = stored
    if args.responder_tree:
        tree = os.path.abspath(args.responder_tree)
        os.environ[procs.TREE_ENV] = tree
        target = stored.setdefault("before", {})
    for name in names:
        print(f"bench: {name} ({'quick' if args.quick else 'full'}) ...", flush=True)
        started = time.monotonic()
        load_before = os.getloadavg()[0]
        given = {k: v for k, v in overrides.get(name, {}).items() if v is not None}
        result = BENCHMARKS[name](args.quick, given)
        target[name] = {
            "result": result,
            "quick": args.quick,
            "command": command,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": time.monotonic() - started,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg()[0],
            "commit": machine.commit(),
        }
        report.save(stored)
        print(f"bench: {name} done in {time.monotonic() - started:.0f}s", flush=True)
        shown = report.headline(name, result)
        print(json.dumps(shown, indent=None), flush=True)
    report.write(stored)
    print(f"bench: wrote {report.DOC} and {report.PLOTS}/", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
