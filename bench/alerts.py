"""Alertmanager webhook payloads (version 4), shaped as Alertmanager sends them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

ACTION = "BenchAction"
"""alertname of the rule whose playbook does one ``flags.set`` (bench/config/rules)."""
ESCALATION = "BenchEscalation"
"""alertname of the rule that only escalates, ``after: 2s``."""


def alert(name: str, instance: str, run: str, status: str = "firing") -> dict[str, Any]:
    """One alert, distinct per (run, instance): its own fingerprint, so it is never a duplicate."""
    fingerprint = hashlib.blake2b(f"{run}/{name}/{instance}".encode(), digest_size=8).hexdigest()
    return {
        "status": status,
        "labels": {"alertname": name, "instance": instance, "job": "bench", "severity": "warning"},
        "annotations": {"summary": f"{name} on {instance}", "description": "synthetic benchmark alert"},
        "startsAt": "2026-01-01T00:00:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up&g0.tab=1",
        "fingerprint": fingerprint,
    }


def payload(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    name = alerts[0]["labels"]["alertname"]
    return {
        "receiver": "alert-responder",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "job": "bench"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
    }


def numbered(name: str, run: str, count: int) -> Callable[[int], bytes]:
    """A cheap factory of distinct payloads: body ``i`` holds ``count`` alerts no other body holds.

    The JSON is built once with a placeholder, so the load generator spends its time
    sending, not serialising (it shares the 2 cores with the server it measures).
    """
    alerts = [alert(name, f"@I@-{j}", run) for j in range(count)]
    for j, item in enumerate(alerts):
        item["fingerprint"] = f"{run}-@I@-{j}"
    template = json.dumps(payload(alerts), separators=(",", ":")).encode()

    def make(i: int) -> bytes:
        return template.replace(b"@I@", str(i).encode())

    return make


def body(name: str, run: str, first: int, count: int) -> bytes:
    """A payload of ``count`` alerts with instances ``first .. first+count-1``."""
    alerts = [alert(name, str(i), run) for i in range(first, first + count)]
    return json.dumps(payload(alerts), separators=(",", ":")).encode()


def one(name: str, run: str, instance: str) -> bytes:
    """A payload of one alert with the given ``instance`` label."""
    return json.dumps(payload([alert(name, instance, run)]), separators=(",", ":")).encode()
