"""Webhook ingest: requests/s and latency of ``POST /webhook/alertmanager`` at fixed concurrency.

The responder (validate, dedupe and enqueue in one Redis round trip) against the
bare-Flask baseline (one LPUSH), both under the same gunicorn settings, 1 and 10
alerts per payload, interleaved in rounds so drift on this shared machine hits both
alike. No RQ worker runs meanwhile: this measures the web path only, and jobs queue up.
"""

from __future__ import annotations

from typing import Any

from bench import alerts, load, procs
from bench.stats import summary

CONCURRENCY = 16
"""Requests in flight: twice the 2 x 4 gunicorn threads, so the server is never idle."""


def sizes(quick: bool) -> dict[str, Any]:
    if quick:
        return {"duration": 3.0, "warmup": 1.0, "rounds": 1}
    return {"duration": 6.0, "warmup": 1.5, "rounds": 2}


def run(quick: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    size = {**sizes(quick), **(overrides or {})}
    results: dict[str, dict[str, Any]] = {}
    with procs.stack() as st:
        baseline_proc, baseline = st.baseline_web()
        responder_proc, responder = st.responder_web("ingest")
        targets = {"baseline": (baseline_proc, baseline), "responder": (responder_proc, responder)}
        cpu: dict[str, dict[str, float]] = {}
        pooled: dict[str, list[load.LoadResult]] = {}
        for round_no in range(size["rounds"]):
            for per_payload in (1, 10):
                for name, (proc, base) in targets.items():
                    run_id = f"ingest-{name}-{per_payload}-{round_no}"

                    make_body = alerts.numbered(alerts.ACTION, run_id, per_payload)
                    web_cpu, redis_cpu = procs.cpu_seconds([proc.pid]), procs.cpu_seconds([st.redis_proc.pid])
                    result = load.closed_loop(
                        f"{base}/webhook/alertmanager",
                        make_body,
                        concurrency=CONCURRENCY,
                        duration=size["duration"],
                        warmup=size["warmup"],
                    )
                    pooled.setdefault(f"{name}/{per_payload}", []).append(result)
                    used = cpu.setdefault(f"{name}/{per_payload}", {"web": 0.0, "redis": 0.0, "requests": 0})
                    used["web"] += procs.cpu_seconds([proc.pid]) - web_cpu
                    used["redis"] += procs.cpu_seconds([st.redis_proc.pid]) - redis_cpu
                    used["requests"] += result.total_requests
                    st.redis.delete("baseline:webhooks")  # keep the baseline's list from growing
        for key, runs in pooled.items():
            latencies = [x for r in runs for x in r.latencies]
            seconds = sum(r.seconds for r in runs)
            statuses: dict[str, int] = {}
            for r in runs:
                for status, count in r.statuses.items():
                    statuses[status] = statuses.get(status, 0) + count
            results[key] = {
                "rps": len(latencies) / seconds,
                "requests": len(latencies),
                "errors": sum(r.errors for r in runs),
                "statuses": statuses,
                "latency_ms": summary(latencies),
                "cpu_ms_per_request": {
                    part: 1000 * cpu[key][part] / max(cpu[key]["requests"], 1) for part in ("web", "redis")
                },
                "client_cpu": sum(r.client_cpu * r.seconds for r in runs) / seconds,
                "samples": [round(x * 1000, 3) for x in latencies],
            }
    for per_payload in (1, 10):
        ours, base = results[f"responder/{per_payload}"], results[f"baseline/{per_payload}"]
        ours["ratio_rps"] = ours["rps"] / base["rps"]
        ours["ratio_p99"] = ours["latency_ms"]["p99"] / base["latency_ms"]["p99"]
    return {
        "concurrency": CONCURRENCY,
        "web_workers": procs.WEB_WORKERS,
        "web_threads": procs.WEB_THREADS,
        **size,
        "series": results,
    }
