"""docs/benchmarks.md and docs/bench/*.png, from the stored results (bench/out/results.json)."""

from __future__ import annotations

import json
from typing import Any

from bench import plots
from bench.procs import REPO
from bench.report import drain, ingest, operations, pipeline, summary, web

RESULTS = REPO / "bench" / "out" / "results.json"

DOC = REPO / "docs" / "benchmarks.md"

PLOTS = REPO / "docs" / "bench"


def load() -> dict[str, Any]:
    try:
        return dict(json.loads(RESULTS.read_text()))
    except (OSError, ValueError):
        return {}


def save(stored: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(stored))


def headline(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The few figures printed on the terminal after a benchmark."""
    if name == "ingest":
        return {
            k: {"rps": round(v["rps"]), "p99_ms": round(v["latency_ms"]["p99"], 1)}
            for k, v in result["series"].items()
        }
    if name == "latency":
        return {k: {"finished_p99_ms": round(v["finished_ms"]["p99"])} for k, v in result["series"].items()}
    if name == "storm":
        keys = (
            "alerts",
            "lost",
            "incidents_opened_twice",
            "duplicate_runs",
            "drain_seconds",
            "peak_queue_depth",
        )
        return {k: result[k] for k in keys}
    if name == "escalation":
        return {lvl: round(result["late_ms"][lvl]["p99"]) for lvl in ("2", "3")}
    if name == "peer":
        return {k: round(result[k]["actions_per_s"], 1) for k in ("webhook", "responder")}
    if name == "report_cost":
        return {k: round(result[k]["p50_ms"]) for k in ("report", "report_compare", "scan_baseline")}
    if name in ("drain", "canary"):
        return drain.headline(name, result)
    if name == "failover":
        worst = {
            k: round(result[k]["max"], 2)
            for k in ("failover_s", "outage_s", "backlog_s", "timer_moved_late_s", "timer_late_s")
        }
        return {**worst, "lost": result["lost"], "restarted": result["processes_restarted"]}
    return {}


def write(stored: dict[str, Any]) -> None:
    PLOTS.mkdir(parents=True, exist_ok=True)
    sections = [
        "# Benchmarks",
        "",
        "How fast alert-responder takes a webhook, turns an alert into an action, escalates on time and "
        "survives an alert storm, each beside a baseline or peer measured in the same run. Produced by "
        "`bench/` (not tests); every benchmark starts its own private `redis-server`, `responder serve` "
        "under gunicorn and `responder worker` processes, sends traffic to 127.0.0.1 only, and tears "
        "everything down.",
        "",
        "```sh",
        'pip install -e ".[bench,test]"     # matplotlib, aiohttp; the fake Slack of tests/fakes',
        "apt-get install -y wrk webhook redis-server && pip install py-spy   # load, peer, profiler",
        "python -m bench all                # everything at full size (about half an hour)",
        "python -m bench all --quick        # small sizes, a few minutes",
        "python -m bench drain|canary|ingest|latency|storm|escalation|peer|memory|profile|...",
        "python -m bench drain --responder-tree ../before   # this harness on another checkout",
        "BENCH_INGEST_BEFORE=../before python -m bench ingest   # ingest: both in the same rounds",
        "python -m bench report             # rewrite this page from bench/out/results.json",
        "```",
        "",
    ]
    if "machine" in stored:
        sections += [web.machine_section(stored["machine"]), ""]
    sections += [summary.summary_section(stored), ""]
    renderers = (
        ("ingest", ingest.section, plots.ingest),
        ("latency", pipeline.latency_section, plots.latency),
        ("storm", pipeline.storm_section, plots.storm),
        ("storm", pipeline.memory_section, None),
        ("escalation", pipeline.escalation_section, plots.escalation),
        ("peer", web.peer_section, None),
        ("report_cost", operations.report_cost_section, None),
        ("failover", operations.failover_section, None),
    )
    for name, render, plot in renderers:
        if name in stored:
            sections += [render(stored[name]), ""]
            if plot is not None:
                plot(stored[name]["result"], PLOTS / f"{name}.png")
        if name == "ingest":
            sections += drain.sections(stored)
    sections += [summary.CHANGED, "", summary.left_section(stored), "", summary.MISSING]
    DOC.write_text("\n".join(sections).rstrip() + "\n")
