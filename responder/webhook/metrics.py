"""Prometheus metrics, read from Redis at scrape time so every web replica reports the same."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from responder.runtime import Runtime
from responder.scheduling import lane_depths
from responder.store.codec import text
from responder.store.reports import BUCKETS

REGISTRY = CollectorRegistry(auto_describe=False)

_COUNTERS = {
    "webhook_requests": "Webhook requests accepted into Redis.",
    "incidents_opened": "Incidents opened.",
    "alerts_unmatched": "Alerts no rule matched.",
    "alerts_truncated": "Alerts Alertmanager left out of its posts (truncatedAlerts; raise max_alerts).",
    "incidents_auto_remediated": "Incidents resolved by automation (verified, or runs completed, unacked).",
}

_HISTOGRAMS = {
    "tta": ("responder_time_to_ack_seconds", "Seconds from an incident's open to its first acknowledgement."),
    "ttr": ("responder_time_to_resolve_seconds", "Seconds from an incident's open to its resolution."),
}


class RedisCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        redis, keys = self.runtime.redis, self.runtime.keys
        try:
            with redis.pipeline(transaction=False) as pipe:
                pipe.mget([keys.counter(name) for name in _COUNTERS])
                pipe.hlen(keys.open_incidents)
                pipe.exists(keys.paused)
                for name in _HISTOGRAMS:
                    pipe.hgetall(keys.histogram(name))
                values, open_count, paused, *stored = pipe.execute()
            depths, _ = lane_depths(redis, keys)
            histograms = dict(zip(_HISTOGRAMS, stored, strict=True))
        except RedisError:
            up = GaugeMetricFamily("responder_redis_up", "Whether Redis answered the scrape.")
            up.add_metric([], 0)
            yield up
            return
        for (name, help_text), raw in zip(_COUNTERS.items(), values, strict=True):
            family = CounterMetricFamily(f"responder_{name}", help_text)
            family.add_metric([], float(raw or 0))
            yield family
        depth = GaugeMetricFamily(
            "responder_queue_depth",
            "Work waiting in each lane: its RQ queue, and for intake the accepted batches on the intake "
            "list (scheduled jobs not counted).",
            labels=["lane"],
        )
        for lane, waiting in depths.items():
            depth.add_metric([lane.value], float(waiting))
        yield depth
        for name, help_text, value in (
            ("responder_redis_up", "Whether Redis answered the scrape.", 1),
            ("responder_incidents_open", "Incidents not yet resolved.", open_count),
            ("responder_automation_paused", "1 when the kill switch is on.", paused),
        ):
            gauge = GaugeMetricFamily(name, help_text)
            gauge.add_metric([], float(value))
            yield gauge
        for short, (name, help_text) in _HISTOGRAMS.items():
            yield histogram(name, help_text, histograms[short])


def histogram(name: str, help_text: str, stored: dict[Any, Any]) -> HistogramMetricFamily:
    """A histogram by rule and severity from its hash (store/reports.py): ``<rule>|<severity>|<le>``."""
    series: dict[tuple[str, str], dict[str, float]] = {}
    for field, value in stored.items():
        rule, severity, bound = text(field).split("|")
        series.setdefault((rule, severity), {})[bound] = float(value)
    family = HistogramMetricFamily(name, help_text, labels=["rule", "severity"])
    for (rule, severity), counts in sorted(series.items()):
        buckets = [(f"{b:g}", counts.get(f"{b:g}", 0.0)) for b in BUCKETS] + [
            ("+Inf", counts.get("+Inf", 0.0))
        ]
        family.add_metric([rule, severity], buckets, counts.get("sum", 0.0))
    return family


def install(app: Flask, runtime: Runtime) -> None:
    collector = RedisCollector(runtime)
    for existing in list(REGISTRY._collector_to_names):  # one app per process; tests build several
        REGISTRY.unregister(existing)
    REGISTRY.register(collector)
    app.extensions["responder.metrics"] = collector
