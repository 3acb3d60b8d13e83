"""Escalation precision: how late each level fires against when it was due.

Incidents open at a steady pace (so their timers do not all fall due in the same
instant); the rule escalates ``after: 2s``, so level 2 is due 2 s and level 3 4 s
after the incident opened. Fired = the ``escalation.level`` entry in the
timeline; due = ``incident.opened`` + (level - 1) x 2 s.

Every level pages a fake Slack on loopback (``tests/fakes/slack.py``, at the HTTP level): a
level whose every delivery is skipped is recorded as ``escalation.unreached`` and the next
one pages at once (docs/escalation.md), so without a channel that works there would be
nothing to time.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bench import alerts, load, procs, timelines
from bench.stats import epoch, summary
from tests.fakes.slack import FakeSlack

AFTER = 2.0
WORKERS = 4
RATE = 10.0
"""Incidents opened per second."""
DRAIN_TIMEOUT = 240
SLACK_TOKEN = "xoxb-bench"
SLACK_CHANNELS = ["#bench-dev", "#bench-ops", "#bench-mgmt"]


def sizes(quick: bool) -> dict[str, Any]:
    return {"incidents": 40 if quick else 200}


def run(quick: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    size = {**sizes(quick), **(overrides or {})}
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per fake Slack request
    slack = FakeSlack(SLACK_TOKEN, SLACK_CHANNELS).start()
    try:
        with procs.stack() as st:
            measured = measure(
                st, size["incidents"], {"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_API_URL": slack.api_url}
            )
    finally:
        slack.stop()
    return {**size, "after_s": AFTER, "workers": WORKERS, "rate_per_s": RATE, **measured}


def measure(st: procs.Stack, count: int, env: dict[str, str]) -> dict[str, Any]:
    prefix = "escalation"
    bodies = [alerts.one(alerts.ESCALATION, prefix, str(i)) for i in range(count)]
    web, base = st.responder_web(prefix, env=env)
    pool = st.responder_workers(prefix, WORKERS, env=env)
    answers = load.send_all(f"{base}/webhook/alertmanager", bodies, concurrency=4, pace=1 / RATE)
    deadline = time.monotonic() + 2 * AFTER + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        incidents = timelines.incidents(st.redis, prefix)
        fired = sum(1 for i in incidents for e in i.of("escalation.level") if e["details"]["level"] == 3)
        if len(incidents) == count and fired == count:
            break
        time.sleep(0.5)
    st.stop([web, *pool])
    incidents = timelines.incidents(st.redis, prefix)
    late: dict[int, list[float]] = {1: [], 2: [], 3: []}
    repeated = 0
    for incident in incidents:
        opened = incident.at("incident.opened")
        assert opened is not None
        levels = [e["details"]["level"] for e in incident.of("escalation.level")]
        repeated += len(levels) - len(set(levels))
        for event in incident.of("escalation.level"):
            level = int(event["details"]["level"])
            late[level].append(epoch(event["at"]) - (opened + (level - 1) * AFTER))
    return {
        "non_200": sum(1 for a in answers if a.status != 200),
        "incidents_opened": len(incidents),
        "missing": {str(level): count - len(values) for level, values in late.items()},
        "paged_twice": repeated,
        "late_ms": {str(level): summary(values) for level, values in late.items()},
        "samples": {str(level): [round(x * 1000, 1) for x in values] for level, values in late.items()},
        "within_1_5s": {
            str(level): sum(1 for x in values if abs(x) <= 1.5) / len(values) if values else 0.0
            for level, values in late.items()
        },
        "early": {str(level): sum(1 for x in values if x < 0) for level, values in late.items()},
    }
