"""Prometheus metrics, read from Redis at scrape time so every web replica reports the same."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from rq import Queue

from responder.runtime import Runtime
from responder.scheduling import LANES, queue_names

REGISTRY = CollectorRegistry(auto_describe=False)

_COUNTERS = {
    "webhook_requests": "Webhook requests accepted into Redis.",
    "incidents_opened": "Incidents opened.",
    "alerts_unmatched": "Alerts no rule matched.",
    "alerts_truncated": "Alerts Alertmanager left out of its posts (truncatedAlerts; raise max_alerts).",
}


class RedisCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        redis, keys = self.runtime.redis, self.runtime.keys
        try:
            with redis.pipeline(transaction=False) as pipe:
                pipe.mget([keys.counter(name) for name in _COUNTERS])
                for name in queue_names(keys):
                    pipe.llen(Queue.redis_queue_namespace_prefix + name)
                pipe.hlen(keys.open_incidents)
                pipe.exists(keys.paused)
                values, *depths, open_count, paused = pipe.execute()
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
            "Jobs waiting in each lane's RQ queue (scheduled ones not counted).",
            labels=["lane"],
        )
        for lane, waiting in zip(LANES, depths, strict=True):
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


def install(app: Flask, runtime: Runtime) -> None:
    collector = RedisCollector(runtime)
    for existing in list(REGISTRY._collector_to_names):  # one app per process; tests build several
        REGISTRY.unregister(existing)
    REGISTRY.register(collector)
    app.extensions["responder.metrics"] = collector
