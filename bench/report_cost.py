"""What the incident report costs with 100,000 incidents in its window, beside scanning them.

The report reads hourly buckets kept as incidents happen (responder/store/reports.py). The
baseline is what a report without them would do: read every incident of the window
(``ZRANGEBYSCORE`` + ``HGETALL`` each) and compute the same figures in Python. Both run in the
same process against the same private ``redis-server``, filled with the same incidents
spread over seven days (open, acknowledged after 1-30 minutes, resolved after 5-120).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from redis import Redis

from responder.report.build import build
from responder.store import incidents, reports
from responder.store.keys import Keys
from responder.store.records import Alert, Incident, IncidentStatus
from responder.up import start_redis

DAY = 86400.0
RULES = ("api_quota_exhaustion", "queue_worker_failure", "embedding_failure_spike", "queue_depth_high")


def fill(redis: Redis, keys: Keys, count: int, until: float) -> None:
    """``count`` incidents over the seven days before ``until``, with the writes the responder makes."""
    rng = random.Random(42)
    alert = Alert.from_webhook({"labels": {"alertname": "X"}, "fingerprint": "fp"})
    with redis.pipeline(transaction=False) as pipe:
        for n in range(count):
            opened = until - rng.uniform(0, 7 * DAY)
            acked = opened + rng.uniform(60, 1800)
            resolved = acked + rng.uniform(300, 7200)
            incident = Incident(
                id=f"{n:012x}", key=f"bench:{n}", rule=rng.choice(RULES), severity="critical",
                status=IncidentStatus.RESOLVED, title="X", summary="", labels={}, annotations={}, group={},
                created_at=opened, updated_at=resolved, acknowledged_at=acked, acknowledged_by="oncall",
                resolved_at=resolved, resolved_by="alertmanager",
            )  # fmt: skip
            incidents.create(pipe, keys, incident, alert)
            reports.opened(pipe, keys, incident)
            reports.acknowledged(pipe, keys, incident, acked)
            reports.resolved(pipe, keys, incident, resolved, auto_remediated=n % 3 == 0)
            if n % 500 == 499:
                pipe.execute()
        pipe.execute()


def scan(redis: Redis, keys: Keys, since: float, until: float) -> dict[str, Any]:
    """The same headline figures by reading every incident of the window (the baseline)."""
    ids = redis.zrangebyscore(keys.incidents, since, until)
    tta, ttr, per_rule = [], [], {}
    with redis.pipeline(transaction=False) as pipe:
        for incident_id in ids:
            pipe.hgetall(keys.incident(incident_id.decode()))
        for raw in pipe.execute():
            record = {k.decode(): v.decode() for k, v in raw.items()}
            opened = float(record["created_at"])
            tta.append(float(record["acknowledged_at"]) - opened)
            ttr.append(float(record["resolved_at"]) - opened)
            per_rule[record["rule"]] = per_rule.get(record["rule"], 0) + 1
    return {
        "opened": len(ids),
        "mtta": statistics.median(tta),
        "mttr": statistics.median(ttr),
        "rules": per_rule,
    }


def timed(fn: Any, repeats: int) -> dict[str, float]:
    took = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        took.append(time.perf_counter() - started)
    return {"p50_ms": statistics.median(took) * 1000, "max_ms": max(took) * 1000}


def run(quick: bool, overrides: dict[str, Any]) -> dict[str, Any]:
    count = int(overrides.get("incidents") or (10_000 if quick else 100_000))
    repeats = 5 if quick else 20
    with tempfile.TemporaryDirectory() as data:
        process, url = start_redis(Path(data))
        try:
            redis = Redis.from_url(url)
            keys = Keys("bench-report")
            until = time.time()
            started = time.perf_counter()
            fill(redis, keys, count, until)
            filled = time.perf_counter() - started
            since = until - 7 * DAY
            ours = build(redis, keys, since, until)
            baseline = scan(redis, keys, since, until)
            assert ours["incidents"]["opened"] >= baseline["opened"]  # ours counts whole edge hours
            return {
                "incidents": count,
                "fill_seconds": filled,
                "report": timed(lambda: build(redis, keys, since, until), repeats),
                "report_compare": timed(lambda: build(redis, keys, since, until, compare=True), repeats),
                "scan_baseline": timed(lambda: scan(redis, keys, since, until), max(repeats // 4, 2)),
                "median_mtta": {"report": ours["mtta_seconds"]["median"], "scan": baseline["mtta"]},
                "redis_used_memory_mb": int(redis.info("memory")["used_memory"]) / 2**20,
            }
        finally:
            process.terminate()
            process.wait(15)
