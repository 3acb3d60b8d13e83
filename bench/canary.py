"""Storm + canary: does a critical alert keep its promises while a storm drains?

A 10,000-alert storm of one rule (guard off, as in :mod:`bench.drain`: one ``http.request``
each, pages nobody) is posted; :data:`CANARY_AFTER` seconds after its first POST, one
critical canary alert of another rule (``escalation: {after: 5s}``, Slack) is posted.
Measured: canary POST → ``incident.opened``; level 2 fired - due (due = opened + 5 s); and an
Acknowledge click (a signed ``POST /slack/interactions``, as Slack sends it) made while the
storm still drains → ``incident.acknowledged`` in the timeline. Slack is faked at HTTP level
on loopback (the drain sink answers its Web API).

Then the same storm with the guard ON (the default 25 per 10m), the storm rule paging Slack
on a one-level policy: how many incidents, storm incidents, pages and playbook runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.request
from typing import Any
from urllib.parse import urlencode

from bench import alerts, drain, load, procs, timelines
from bench.stats import epoch

CANARY = "CanaryAlert"
CANARY_AFTER = 5.0
"""Seconds after the storm's first POST that the canary is posted."""
AFTER = 5.0
"""The canary rule's escalation ``after``."""
ACK_AT = 7.0
"""Seconds after the canary opened that the Acknowledge click is posted (level 2 is due at 5 s)."""
SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"

CANARY_RULE = f"""\
- name: canary
  matchers: ['alertname = "{CANARY}"']
  severity: critical
  notify: [slack]
  escalation: {{policy: default, after: 5s}}
  group_by: [alertname, instance]
"""

ACCESS = """\
access:
  slack:
    ack: ["*"]
"""


def sizes(quick: bool) -> dict[str, Any]:
    return {"storm": 2000 if quick else 10000, "drain_timeout": 300 if quick else 600}


def _environ(st: procs.Stack, prefix: str, config: Any, sink: drain.Sink) -> dict[str, str]:
    return drain.env(
        st,
        prefix,
        config,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_API_URL=f"{sink.url}/api/",
        SLACK_SIGNING_SECRET=SECRET,
    )


def _config(st: procs.Stack, sink: drain.Sink, *, guard: bool) -> Any:
    where = st.workdir / ("config-guard" if guard else "config")
    rules = drain.storm_rule(guard=guard, notify=guard) + CANARY_RULE
    drain.write_config(where, sink.url, rules)
    (where / "responder.yaml").write_text(drain.RESPONDER_YAML + ACCESS)
    return where


def click(incident_id: str, response_url: str) -> tuple[bytes, dict[str, str]]:
    """A signed Acknowledge click, as Slack posts it."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U0BENCH", "username": "oncall", "name": "oncall", "team_id": "T0BENCH"},
        "team": {"id": "T0BENCH", "domain": "bench"},
        "channel": {"id": "C00000001"},
        "container": {"type": "message", "message_ts": "1700000001.000001"},
        "response_url": response_url,
        "actions": [{"action_id": "ack", "value": incident_id, "type": "button"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return body, headers


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return int(answer.status)


def _incident(st: procs.Stack, prefix: str, rule: str) -> timelines.Incident | None:
    found = [i for i in timelines.incidents(st.redis, prefix) if i.record.get("rule") == rule]
    return found[0] if found else None


def _poll(what: Any, timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(interval)
    return None


def _canary_events(st: procs.Stack, prefix: str, incident_id: str) -> list[dict[str, Any]]:
    from responder.store.keys import Keys

    return [json.loads(e) for e in st.redis.lrange(Keys(prefix).timeline(incident_id), 0, -1)]


def _open_id(st: procs.Stack, prefix: str) -> str | None:
    """The canary's open incident (its rule is alone in its keys' ``canary:`` prefix)."""
    from responder.store.keys import Keys

    for _, value in st.redis.hscan_iter(Keys(prefix).open_incidents, match="canary:*"):
        return str(value.decode())
    return None


def _waiting(st: procs.Stack, prefix: str, lane: str) -> int:
    """Jobs waiting in ``lane``'s RQ queue."""
    from rq import Queue

    from responder.scheduling import Lane
    from responder.store.keys import Keys

    return int(Queue(Keys(prefix).lane_queue(Lane(lane)), connection=st.redis).count)


def guard_off(size: dict[str, Any]) -> dict[str, Any]:
    prefix = "canary"
    with procs.stack() as st, drain.Sink() as sink:
        config = _config(st, sink, guard=False)
        web, base, general, control = drain.start(st, prefix, _environ(st, prefix, config, sink))
        url = f"{base}/webhook/alertmanager"
        bodies = drain.storm_bodies(prefix, size["storm"])
        storm_done = threading.Event()

        def storm() -> None:
            load.send_all(url, bodies, concurrency=drain.CONCURRENCY)
            storm_done.set()

        load_before = drain._loadavg()
        t0 = time.time()
        sender = threading.Thread(target=storm, daemon=True)
        sender.start()
        time.sleep(max(0.0, t0 + CANARY_AFTER - time.time()))
        intake_waiting, low_waiting = _waiting(st, prefix, "intake"), _waiting(st, prefix, "low")
        posted = time.time()
        status = _post(url, alerts.one(CANARY, prefix, "canary-1"), load.JSON)
        incident_id = _poll(lambda: _open_id(st, prefix), 120)
        result: dict[str, Any] = {
            "canary_posted_s": round(posted - t0, 2),
            "canary_status": status,
            "storm_posted_by_then": storm_done.is_set(),
            "intake_jobs_waiting_at_canary": intake_waiting,
            "low_jobs_waiting_at_canary": low_waiting,
        }
        if incident_id is None:
            return {**result, "error": "the canary incident did not open within 120 s"}
        events = _canary_events(st, prefix, incident_id)
        opened = epoch(next(e["at"] for e in events if e["kind"] == "incident.opened"))
        # Level 2 due at opened + 5 s; wait for it, then click Acknowledge while the storm drains.
        _poll(
            lambda: any(
                e["kind"] == "escalation.level" and e["details"]["level"] == 2
                for e in _canary_events(st, prefix, incident_id)
            ),
            AFTER + 60,
        )
        time.sleep(max(0.0, opened + ACK_AT - time.time()))
        body, headers = click(incident_id, f"{sink.url}/actions/T0BENCH/1/hook")
        clicked = time.time()
        click_status = _post(f"{base}/slack/interactions", body, headers)
        _poll(
            lambda: any(
                e["kind"] == "incident.acknowledged" for e in _canary_events(st, prefix, incident_id)
            ),
            60,
        )
        sink_actions_at_ack = sink.summary()["actions"]
        drained = drain.wait_actions(sink, st, prefix, size["storm"], size["drain_timeout"])
        last = sink.summary()["last"]
        events = _canary_events(st, prefix, incident_id)
        st.stop([web, *general, control])
    levels = {int(e["details"]["level"]): epoch(e["at"]) for e in events if e["kind"] == "escalation.level"}
    acked = [epoch(e["at"]) for e in events if e["kind"] == "incident.acknowledged"]
    return {
        **result,
        "opened_s": round(opened - posted, 3),
        "level1_late_s": round(levels[1] - opened, 3) if 1 in levels else None,
        "level2_late_s": round(levels[2] - (opened + AFTER), 3) if 2 in levels else None,
        "click_status": click_status,
        "click_posted_s": round(clicked - t0, 2),
        "ack_applied_s": round(acked[0] - clicked, 3) if acked else None,
        "storm_actions_done_at_ack": sink_actions_at_ack,
        "storm_drained": drained,
        "storm_drain_seconds": round(last - t0, 2) if last else None,
        "canary_kinds": [e["kind"] for e in events],
        "loadavg_before": load_before,
        "loadavg_after": drain._loadavg(),
    }


def guard_on(size: dict[str, Any]) -> dict[str, Any]:
    prefix = "canaryguard"
    with procs.stack() as st, drain.Sink() as sink:
        config = _config(st, sink, guard=True)
        web, base, general, control = drain.start(st, prefix, _environ(st, prefix, config, sink))
        t0 = time.time()
        load.send_all(
            f"{base}/webhook/alertmanager",
            drain.storm_bodies(prefix, size["storm"]),
            concurrency=drain.CONCURRENCY,
        )
        drained = _poll(lambda: timelines.queue_state(st.redis, prefix).idle, size["drain_timeout"], 1.0)
        time.sleep(2)
        seconds = time.time() - t0
        st.stop([web, *general, control])
        incidents = timelines.incidents(st.redis, prefix)
        stats = sink.stats()
    storms = [i for i in incidents if i.record.get("key", "").endswith(":storm")]
    return {
        "alerts": size["storm"],
        "drained": bool(drained),
        "seconds": round(seconds, 1),
        "incidents": len(incidents),
        "storm_incidents": len(storms),
        "storm_members": sum(int(i.record.get("storm_members") or 0) for i in storms),
        "pages": sum(len(i.of("escalation.level")) for i in incidents),
        "slack_messages": sum(1 for m in stats["slack"] if m["method"] == "chat.postMessage"),
        "playbook_runs": sum(len(i.of("playbook.started")) for i in incidents),
        "actions": sum(stats["hits"].values()),
    }


def run(quick: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    size = {**sizes(quick), **(overrides or {})}
    print("bench: canary, guard off ...", flush=True)
    off = guard_off(size)
    print(
        f"bench: canary guard off: {json.dumps({k: v for k, v in off.items() if k != 'canary_kinds'})}",
        flush=True,
    )
    print("bench: canary, guard on ...", flush=True)
    on = guard_on(size)
    print(f"bench: canary guard on: {json.dumps(on)}", flush=True)
    return {
        **size,
        "canary_after_s": CANARY_AFTER,
        "escalation_after_s": AFTER,
        "ack_at_s": ACK_AT,
        **{k: off.get(k) for k in ("opened_s", "level2_late_s", "ack_applied_s")},
        "guard_off": off,
        "guard_on": on,
    }
