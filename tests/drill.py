"""What the HA drills (tests/integration/ha) and the failover benchmark (bench/failover.py) share:
responder processes started as an operator starts them, and a sender that posts alerts the
way Alertmanager does.

Alertmanager keeps a failed notification and tries again with a backoff until it is
delivered (a 503, a refused connection, a timeout all count as failed); it gives up only
when the group's next notification replaces it. :class:`Sender` does the same, one alert
per request, and records what it saw: when each alert was first tried, when it got its
200, and every failed attempt in between (the outage window as a client sees it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from responder.up import free_port
from tests.helpers import descendants

WEBHOOK_TOKEN = "drill-webhook-token"
API_TOKEN = "drill-api-token"


@dataclass
class Responder:
    """``responder serve`` and ``responder worker`` processes, each in its own session."""

    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def serve(self, name: str = "web", *, workers: int = 1, port: int | None = None) -> str:
        """Start a web process; returns its base URL once ``/health`` answers and all its gunicorn
        workers have booted."""
        port = port or free_port()
        process = self._start(name, ["serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)])
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.check(name)
            with contextlib.suppress(requests.RequestException):
                answered = requests.get(f"{url}/health", timeout=1).status_code == 200
                if answered and len(descendants(process.pid)) >= workers:
                    return url
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not answer /health:\n{self.tail(name)}")

    def worker(self, name: str = "worker", *args: str) -> subprocess.Popen[bytes]:
        return self._start(name, ["worker", *args])

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "responder", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def check(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    def pids(self) -> dict[str, list[int]]:
        """Every process of each of ours (gunicorn's workers included): a restart changes a pid."""
        return {name: sorted([p.pid, *descendants(p.pid)]) for name, p in self.processes.items()}

    def terminate(self, name: str, timeout: float = 60) -> float:
        """SIGTERM one process (its whole session) and wait for it; returns how long it took to exit."""
        process = self.processes[name]
        started = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
        return time.monotonic() - started

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    def tail(self, name: str, lines: int = 40) -> str:
        try:
            return "\n".join((self.logs / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def responder_env(redis_url: str, prefix: str, config_dir: Path, **extra: str) -> dict[str, str]:
    return dict(
        os.environ,
        REDIS_URL=redis_url,
        RESPONDER_KEY_PREFIX=prefix,
        RESPONDER_CONFIG_DIR=str(config_dir),
        RESPONDER_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
        RESPONDER_API_TOKEN=API_TOKEN,
        RESPONDER_MAINTENANCE_INTERVAL="2",
        **extra,
    )


def drill_alert(instance: str, port: int, name: str = "HADrill") -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": name, "severity": "high", "instance": instance, "port": str(port)},
        "annotations": {"summary": f"drill alert {instance}"},
        "startsAt": "2026-11-28T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": f"{name}-{instance}",
    }


def payload(alert: dict[str, Any]) -> bytes:
    labels = alert["labels"]
    return json.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{labels["alertname"]}", instance="{labels["instance"]}"}}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "responder",
            "groupLabels": {},
            "commonLabels": labels,
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": [alert],
        }
    ).encode()


@dataclass
class Delivery:
    """One alert as the sender saw it."""

    instance: str
    first_try: float
    delivered: float | None = None
    failures: list[tuple[float, str]] = field(default_factory=list)
    """(when, what): a status code or an exception name."""


class Sender:
    """Posts alerts one per request, retrying each until it gets a 200, as Alertmanager does.

    ``urls`` are tried in turn after a failure (web replicas behind a Service).
    """

    def __init__(self, urls: list[str], *, backoff: float = 0.1, max_backoff: float = 1.0) -> None:
        self.urls = urls
        self.backoff, self.max_backoff = backoff, max_backoff
        self.deliveries: list[Delivery] = []
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}
        )

    def send(self, alert: dict[str, Any], give_up_after: float = 120) -> Delivery:
        delivery = Delivery(alert["labels"]["instance"], time.time())
        self.deliveries.append(delivery)
        wait, turn = self.backoff, 0
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            url = self.urls[turn % len(self.urls)]
            try:
                answer = self.session.post(f"{url}/webhook/alertmanager", data=payload(alert), timeout=10)
                if answer.status_code == 200:
                    delivery.delivered = time.time()
                    return delivery
                delivery.failures.append((time.time(), str(answer.status_code)))
            except requests.RequestException as exc:
                delivery.failures.append((time.time(), type(exc).__name__))
            turn += 1
            time.sleep(wait)
            wait = min(wait * 2, self.max_backoff)
        return delivery

    def send_all(self, alerts: Iterable[dict[str, Any]], every: float) -> None:
        for alert in alerts:
            began = time.monotonic()
            self.send(alert)
            time.sleep(max(every - (time.monotonic() - began), 0))

    def in_background(self, alerts: Iterable[dict[str, Any]], every: float) -> threading.Thread:
        thread = threading.Thread(target=self.send_all, args=(list(alerts), every), daemon=True)
        thread.start()
        return thread

    @property
    def failures(self) -> list[tuple[float, str]]:
        return sorted(f for d in self.deliveries for f in d.failures)

    def outage(self) -> tuple[float, float] | None:
        """(first failed attempt, first 200 after the last failed attempt): what the sender saw."""
        failures = self.failures
        if not failures:
            return None
        last = failures[-1][0]
        after = [d.delivered for d in self.deliveries if d.delivered is not None and d.delivered > last]
        return failures[0][0], min(after) if after else float("nan")
