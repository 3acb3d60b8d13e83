"""Webhook ingest: requests/s, latency and CPU of ``POST /webhook/alertmanager``, loaded by ``wrk``.

The responder (validate, dedupe and queue the work durably) against the bare-Flask baseline
(``bench/baseline_app.py``: one LPUSH of the body), both under the same gunicorn settings, at 1
and 10 alerts per payload, interleaved in rounds so drift on this shared machine hits both
alike. The load comes from ``wrk`` (C; :mod:`bench.wrk`), 2 threads x 16 keep-alive
connections, so the client takes little of the 2 cores the servers share. Every request
carries alerts no other request carries (unique fingerprints and labels per request and
thread), so nothing is a duplicate. No RQ worker runs meanwhile: this is the web path alone.

After each series the benchmark checks in Redis that every request answered 2xx left its
alerts there, and (for the responder) work that will act on them: an RQ job of its own, or
its batch id in the intake list with an intake job queued.

Two more servers, in the same rounds, show where the responder's time goes: its app with the
webhook cut short after nothing and after its checks, each then storing with one LPUSH
(:mod:`bench.ingest_stages`).

``BENCH_INGEST_BEFORE=/path/to/other/checkout`` adds another server, the responder as that
checkout has it (e.g. a worktree of main), measured in the same rounds: before and after in
one run.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

from redis import Redis

from bench import alerts, procs, wrk
from bench.baseline_app import KEY as BASELINE_KEY
from responder.store.codec import text
from responder.store.keys import Keys

PREFIX = "ingest"
PER_PAYLOAD = (1, 10)
STAGES = {"app": "bench.ingest_stages:app_only()", "checked": "bench.ingest_stages:checked()"}
"""The responder's app cut short (:mod:`bench.ingest_stages`), measured in the same rounds."""
BARE = ("baseline", *STAGES)
"""Servers that store each request with one LPUSH and queue no work."""


def sizes(quick: bool) -> dict[str, Any]:
    if quick:
        return {"duration": 3.0, "warmup": 1.0, "rounds": 1}
    return {"duration": 5.0, "warmup": 2.0, "rounds": 5}


def template(per_payload: int) -> str:
    """A payload of ``per_payload`` alerts whose labels and fingerprints hold wrk's placeholder."""
    items = [alerts.alert(alerts.ACTION, f"{wrk.PLACEHOLDER}-{j}", "wrk") for j in range(per_payload)]
    for j, item in enumerate(items):
        item["fingerprint"] = f"{wrk.PLACEHOLDER}-{j}"
    return json.dumps(alerts.payload(items), separators=(",", ":"))


def stored(redis: Redis, name: str, per_payload: int) -> dict[str, Any]:
    """What Redis holds after a series: alerts, and whether every batch has work that will act on it."""
    if name in BARE:
        return {"alerts": int(redis.llen(BASELINE_KEY)) * per_payload, "work_ok": True}
    keys = Keys(name)
    batch_ids = [text(b) for b in redis.zrange(keys.pending_batches, 0, -1)]
    with redis.pipeline(transaction=False) as pipe:
        for batch_id in batch_ids:
            pipe.llen(keys.batch(batch_id))
        lengths = pipe.execute()
    intake_queue = f"rq:queue:{keys.lane_queue('intake')}"
    jobs = [text(j) for j in redis.lrange(intake_queue, 0, -1)]
    own_job = {j.removeprefix(f"{keys.prefix}-batch-") for j in jobs if j.startswith(f"{keys.prefix}-batch-")}
    listed = {text(b) for b in redis.lrange(f"{keys.prefix}:intake:batches", 0, -1)}
    drainer = any(not j.startswith(f"{keys.prefix}-batch-") for j in jobs)
    carried = all(b in own_job or (b in listed and drainer) for b in batch_ids)
    return {"alerts": sum(int(n) for n in lengths), "batches": len(batch_ids), "work_ok": carried}


def run(quick: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    size = {**sizes(quick), **(overrides or {})}
    before_tree = os.environ.get("BENCH_INGEST_BEFORE")
    series: dict[str, dict[str, Any]] = {}
    with procs.stack() as st:
        redis = st.redis
        targets: dict[str, tuple[procs.Proc, str]] = {"baseline": st.baseline_web()}
        for stage, app in STAGES.items():
            targets[stage] = st.bench_web(f"stage-{stage}", app, PREFIX)
        if before_tree:
            targets["before"] = st.responder_web("before", tree=Path(before_tree).resolve())
        targets["responder"] = st.responder_web(PREFIX)
        for round_no in range(size["rounds"]):
            for per_payload in PER_PAYLOAD:
                body = template(per_payload)
                for name, (proc, base) in targets.items():
                    url = f"{base}/webhook/alertmanager"
                    run_id = f"{name}{per_payload}r{round_no}"
                    warm = wrk.run(url, body, run_id + "w", seconds=size["warmup"])
                    web_cpu, redis_cpu = procs.cpu_seconds([proc.pid]), procs.cpu_seconds([st.redis_proc.pid])
                    measured = wrk.run(url, body, run_id, seconds=size["duration"])
                    web_used = procs.cpu_seconds([proc.pid]) - web_cpu
                    redis_used = procs.cpu_seconds([st.redis_proc.pid]) - redis_cpu
                    held = stored(redis, PREFIX if name == "responder" else name, per_payload)
                    redis.flushall()  # each series starts from an empty Redis
                    acc = series.setdefault(f"{name}/{per_payload}", {})
                    _add(acc, warm, measured, held, per_payload, (web_used, redis_used))
    results = {key: _finish(acc) for key, acc in series.items()}
    for per_payload in PER_PAYLOAD:
        bare = results[f"baseline/{per_payload}"]
        for name in (*STAGES, "responder", "before"):
            ours = results.get(f"{name}/{per_payload}")
            if ours is not None:
                # Each round against the baseline of the same round, then the median: a slow spell of
                # this shared machine during one series moves one round's ratio, not the figure.
                rounds = zip(ours["rps_rounds"], bare["rps_rounds"], strict=True)
                ours["ratio_rps"] = statistics.median(a / b for a, b in rounds)
                ours["ratio_p99"] = ours["latency_ms"]["p99"] / bare["latency_ms"]["p99"]
    return {
        "client": f"wrk, {wrk.THREADS} threads x {wrk.CONNECTIONS} keep-alive connections",
        "concurrency": wrk.CONNECTIONS,
        "web_workers": procs.WEB_WORKERS,
        "web_threads": procs.WEB_THREADS,
        "before_tree": before_tree,
        **size,
        "series": results,
    }


def _add(
    acc: dict[str, Any],
    warm: wrk.WrkResult,
    measured: wrk.WrkResult,
    held: dict[str, Any],
    per: int,
    cpu_seconds: tuple[float, float],
) -> None:
    """One round of a series into its accumulator; ``cpu_seconds``: (web, Redis) over the measured part."""
    acc.setdefault("runs", []).append(measured)
    served = max(measured.requests, 1)
    acc.setdefault("cpu_rounds", []).append(tuple(1000 * s / served for s in cpu_seconds))
    acc["accepted"] = acc.get("accepted", 0) + warm.ok + measured.ok
    acc["non_2xx"] = acc.get("non_2xx", 0) + warm.non_2xx + measured.non_2xx
    acc["socket_errors"] = acc.get("socket_errors", 0) + sum(warm.socket_errors.values())
    acc["socket_errors"] += sum(measured.socket_errors.values())
    acc["stored_alerts"] = acc.get("stored_alerts", 0) + held["alerts"]
    acc["expected_alerts"] = acc.get("expected_alerts", 0) + (warm.ok + measured.ok) * per
    acc["work_ok"] = acc.get("work_ok", True) and held["work_ok"]


def _finish(acc: dict[str, Any]) -> dict[str, Any]:
    runs: list[wrk.WrkResult] = acc["runs"]
    requests = sum(r.requests for r in runs)
    rps_rounds = [r.requests / r.seconds for r in runs]
    # Pooled percentiles: the mean over rounds of each round's percentile (rounds are equally long).
    cdf = [(p, sum(r.percentile(p) for r in runs) / len(runs)) for p, _ in runs[0].cdf_ms]
    at = dict(cdf)
    return {
        "rps": statistics.median(rps_rounds),
        "rps_rounds": rps_rounds,
        "requests": requests,
        "errors": acc["non_2xx"] + acc["socket_errors"],
        "non_2xx": acc["non_2xx"],
        "socket_errors": acc["socket_errors"],
        "latency_ms": {
            "n": requests,
            "p50": at[50],
            "p95": at[95],
            "p99": at[99],
            "mean": sum(r.latency_mean_ms for r in runs) / len(runs),
            "max": max(r.latency_max_ms for r in runs),
        },
        "cpu_ms_per_request": {  # the median round's
            "web": statistics.median(web for web, _ in acc["cpu_rounds"]),
            "redis": statistics.median(redis for _, redis in acc["cpu_rounds"]),
        },
        "client_cpu": sum(r.client_cpu_seconds for r in runs) / sum(r.seconds for r in runs),
        "durable": {
            "accepted_requests": acc["accepted"],
            "expected_alerts": acc["expected_alerts"],
            "stored_alerts": acc["stored_alerts"],
            # wrk stops counting at the deadline, while the server still answers what is in flight:
            # Redis may hold a few requests' alerts more than the 2xx counted, never fewer.
            "all_stored": acc["stored_alerts"] >= acc["expected_alerts"],
            "work_queued": acc["work_ok"],
        },
        # The CDF as its percentile points (ms), for the plot.
        "samples": [round(v, 3) for _, v in cdf],
        "cdf_ms": [[p, round(v, 3)] for p, v in cdf],
    }
