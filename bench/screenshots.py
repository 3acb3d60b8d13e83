"""``python -m bench.screenshots [--out docs/screenshots]``: the dashboard's pictures for the README.

Builds a small, realistic history on the repository's default config (a copy, plus one
rule whose playbook waits for approval), in a Redis key prefix of its own: incidents of
each severity opened over the last hour, playbooks run by a real RQ worker in this
process, one acknowledged from the dashboard, one resolved by Alertmanager. Then it serves
the app on a free loopback port, signs in through ``/ui/login`` in Debian's chromium
(Playwright) and saves PNGs of the main pages. Needs Redis (``REDIS_URL``, default the
local one), ``chromium`` and the ``test`` extra (Playwright). Not a test: it asserts
nothing and is run by hand when the pages change.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from playwright.sync_api import Page, sync_playwright
from redis import Redis
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry
from werkzeug.serving import make_server

from responder import runtime as runtime_mod
from responder.incidents import lifecycle
from responder.runtime import Runtime
from responder.scheduling import queue_names
from responder.store import incidents
from responder.up import free_port
from responder.webhook.app import create_app
from tests.browser import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "screenshot-token"
PREFIX = "screenshots"

APPROVAL_RULE = """
- name: embedding_latency_high
  matchers: ['alertname = "EmbeddingLatencyHigh"']
  severity: medium
  playbooks: [disable_batch_optimization]
  notify: [slack, email]
  group_by: [alertname]
- name: high_memory_usage
  matchers: ['alertname = "HighMemoryUsage"']
  severity: low
  notify: [slack]
  group_by: [alertname, pod]
"""
APPROVAL_PLAYBOOK = """
name: disable_batch_optimization
description: Turn batch optimization off while embedding latency is high (a person confirms first).
steps:
  - action: flags.set
    with: {flag: batchOptimization, merge: {enabled: false}}
    requires_approval: true
  - action: notify
    with: {message: "Batch optimization disabled for {{ alert.labels.alertname }}"}
    continue_on_error: true
"""


class Clock:
    """The runtime's clock, set by the script so the history spreads over the last hour."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += max(seconds, 0.0)


class Worker(SimpleWorker):
    """RQ's worker in this process, without its pub/sub command channel (a burst needs none)."""

    def subscribe(self) -> None:
        return None

    def unsubscribe(self) -> None:
        return None


def config_copy(into: Path) -> Path:
    """The default config plus a rule whose playbook waits for approval."""
    target = into / "config"
    target.mkdir()
    shutil.copy(ROOT / "responder.yaml", target)
    shutil.copytree(ROOT / "rules", target / "rules")
    shutil.copytree(ROOT / "playbooks", target / "playbooks")
    (target / "rules" / "90-screenshots.yaml").write_text(APPROVAL_RULE)
    (target / "playbooks" / "disable_batch_optimization.yaml").write_text(APPROVAL_PLAYBOOK)
    return target


def alert(
    name: str, severity: str, summary: str, status: str = "firing", *, day: int = 0, **labels: str
) -> dict[str, Any]:
    """An alert; ``day`` tells apart the same alert firing on different days."""
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, "namespace": "embedding", **labels},
        "annotations": {"summary": summary},
        "startsAt": f"2026-11-{day % 28 + 1:02d}T{day // 28 % 24:02d}:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else f"2026-11-{day % 28 + 1:02d}T23:40:00Z",
        "generatorURL": f"http://prometheus:9090/graph?g0.expr={name}",
        "fingerprint": f"{abs(hash((name, day))) % 10**16:016x}",
    }


def week_before(rt: Runtime, clock: Clock, client: FlaskClient, now: float) -> None:
    """A few incidents a day over the past six days, for the report's chart: quota alerts that the
    playbooks fixed (resolved unacknowledged), and error-rate alerts that people took."""
    for day in range(6, 0, -1):
        for n in range(day % 3 + 1):
            clock.at = now - day * 86400 + n * 3600
            quota = alert(
                "APIQuotaExhaustion", "critical", "API quota at 93% of the hourly limit", day=day * 10 + n
            )
            post(client, rt, quota)
            clock.at += 12 * 60
            post(client, rt, {**quota, "status": "resolved"})
        clock.at = now - day * 86400 + 5 * 3600
        errors = alert("SystemErrorRateHigh", "critical", "5xx rate 12% over 5 minutes", day=day)
        post(client, rt, errors)
        clock.at += 3 * 60
        lifecycle.acknowledge(rt, newest(rt, "SystemErrorRateHigh"), "bob")
        clock.at += 40 * 60
        post(client, rt, {**errors, "status": "resolved"})


def post(client: FlaskClient, rt: Runtime, *alerts: dict[str, Any]) -> None:
    body = {
        "version": "4",
        "groupKey": "{}:{}",
        "status": alerts[0]["status"],
        "receiver": "responder",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }
    response = client.post("/webhook/alertmanager", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.get_json()
    work(rt)


def work(rt: Runtime) -> None:
    """Run what is queued now, lane by lane (timers due later stay scheduled)."""
    queues = [Queue(name, connection=rt.redis) for name in queue_names(rt.keys)]
    for queue in queues:
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_jobs_to_schedule(rt.clock()):
            job = queue.fetch_job(job_id)
            registry.remove(job_id)
            if job is not None:
                queue._enqueue_job(job)
    while any(queue.count for queue in queues):
        Worker(queues, connection=rt.redis).work(burst=True, logging_level="WARNING")


def newest(rt: Runtime, title: str) -> str:
    return next(i.id for i in incidents.listing(rt.redis, rt.keys) if i.title == title)


def history(rt: Runtime, clock: Clock, client: FlaskClient) -> str:
    """Incidents over the last hour (and the week before, for the report); returns the id of the one
    to picture on its own."""
    now = clock.at
    week_before(rt, clock, client, now)
    clock.at = now - 95 * 60
    post(client, rt, alert("EmbeddingSuccessRateLow", "high", "Embedding success rate at 91% (< 95%)"))
    clock.at = now - 70 * 60
    post(
        client,
        rt,
        alert("EmbeddingSuccessRateLow", "high", "Embedding success rate at 91% (< 95%)", status="resolved"),
    )
    clock.at = now - 47 * 60
    post(client, rt, alert("APIQuotaExhaustion", "critical", "API quota at 93% of the hourly limit"))
    quota = newest(rt, "APIQuotaExhaustion")
    clock.at = now - 44 * 60
    lifecycle.acknowledge(rt, quota, "alice")
    work(rt)
    clock.at = now - 21 * 60
    post(client, rt, alert("EmbeddingLatencyHigh", "medium", "p95 embedding latency 4.2 s (> 2 s)"))
    clock.at = now - 12 * 60
    post(client, rt, alert("HighMemoryUsage", "low", "embedding-api memory at 81%", pod="embedding-api-7d9f"))
    clock.at = now - 4 * 60
    post(client, rt, alert("SystemErrorRateHigh", "critical", "5xx rate 12% over 5 minutes"))
    clock.at = now
    work(rt)
    return quota


@contextmanager
def served(rt: Runtime) -> Iterator[str]:
    port = free_port()
    app = create_app(rt, api_token=TOKEN, secret_key="screenshots")
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def shoot(page: Page, url: str, path: Path) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path}")


def take(base: str, out: Path, incident_id: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for scheme in ("light", "dark"):
            context = browser.new_context(
                viewport={"width": 1280, "height": 480}, color_scheme=scheme, device_scale_factor=1
            )
            page = context.new_page()
            page.goto(base + "/ui/login")
            page.get_by_label("Name").fill("alice")
            page.get_by_label("API token").fill(TOKEN)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(base + "/ui/")
            suffix = "" if scheme == "light" else "-dark"
            shoot(page, base + "/ui/", out / f"incidents{suffix}.png")
            if scheme == "light":
                shoot(page, base + f"/ui/incidents/{incident_id}", out / "incident.png")
                shoot(page, base + "/ui/flags", out / "flags.png")
                shoot(page, base + "/ui/automation", out / "automation.png")
                shoot(page, base + "/ui/report?since=7d", out / "report.png")
            context.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with tempfile.TemporaryDirectory() as tmp:
        config = config_copy(Path(tmp))
        os.environ.update(RESPONDER_CONFIG_DIR=str(config), RESPONDER_KEY_PREFIX=PREFIX)
        redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        clean(redis)
        try:
            clock = Clock(time.time())
            rt = runtime_mod.build()
            rt.clock, rt.sleep = clock, clock.sleep
            runtime_mod.install(rt)
            client = create_app(rt).test_client()
            incident_id = history(rt, clock, client)
            with served(rt) as base:
                take(base, args.out, incident_id)
        finally:
            clean(redis)


def clean(redis: Redis) -> None:
    for pattern in (f"{PREFIX}:*", f"rq:*{PREFIX}*"):
        for key in redis.scan_iter(pattern, count=1000):
            redis.delete(key)


if __name__ == "__main__":
    main()
