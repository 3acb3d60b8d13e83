"""Peer: adnanh/webhook running a trivial command per hook vs the responder, a trivial action per alert.

Both get the same requests (one Alertmanager payload of one alert each) from the
same load generator at the same concurrency, in the same run. End-to-end actions
per second = actions done / (last action done - first request sent):

- webhook: its command is ``sh -c 'echo >> FILE'`` (one line per run, appended
  atomically); done when the file holds one line per request.
- responder: its action is the playbook's one ``flags.set``; done when the queue is
  empty; the last ``step.ok`` in the timelines is the end.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from typing import Any

from bench import alerts, load, procs, timelines
from bench.stats import epoch, summary

CONCURRENCY = 8
WORKERS = 4
TIMEOUT = 600


def sizes(quick: bool) -> dict[str, Any]:
    return {"requests": 200 if quick else 500}


def webhook_version() -> str:
    binary = shutil.which("webhook")
    if binary is None:
        return "not installed"
    out = subprocess.run([binary, "-version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).strip()


def run(quick: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    size = {**sizes(quick), **(overrides or {})}
    count = size["requests"]
    if shutil.which("webhook") is None:
        raise RuntimeError("the peer benchmark needs adnanh/webhook: apt-get install -y webhook")
    with procs.stack() as st:
        peer = _webhook(st, count)
        ours = _responder(st, count)
    ours["ratio_actions_per_s"] = ours["actions_per_s"] / peer["actions_per_s"]
    return {
        **size,
        "concurrency": CONCURRENCY,
        "workers": WORKERS,
        "webhook": peer,
        "responder": ours,
    }


def _webhook(st: procs.Stack, count: int) -> dict[str, Any]:
    done_file = st.workdir / "webhook-actions.txt"
    done_file.touch()
    hooks = [
        {
            "id": "alert",
            "execute-command": "/bin/sh",
            "pass-arguments-to-command": [
                {"source": "string", "name": "-c"},
                {"source": "string", "name": f"echo >> {shlex.quote(str(done_file))}"},
            ],
            "response-message": "ok",
        }
    ]
    hooks_file = st.workdir / "hooks.json"
    hooks_file.write_text(json.dumps(hooks))
    proc, base = st.peer_webhook(hooks_file)
    bodies = [alerts.one(alerts.ACTION, "peer-webhook", str(i)) for i in range(count)]
    t0 = time.time()
    answers = load.send_all(f"{base}/hooks/alert", bodies, concurrency=CONCURRENCY)
    deadline = time.monotonic() + TIMEOUT
    while os.path.getsize(done_file) < count and time.monotonic() < deadline:
        time.sleep(0.002)
    end = time.time()
    st.stop([proc])
    done = os.path.getsize(done_file)
    return {
        "non_200": sum(1 for a in answers if a.status != 200),
        "actions": done,
        "seconds": end - t0,
        "actions_per_s": done / (end - t0),
        "request_ms": summary([a.latency for a in answers]),
    }


def _responder(st: procs.Stack, count: int) -> dict[str, Any]:
    prefix = "peer"
    web, base = st.responder_web(prefix)
    pool = st.responder_workers(prefix, WORKERS)
    bodies = [alerts.one(alerts.ACTION, prefix, str(i)) for i in range(count)]
    t0 = time.time()
    answers = load.send_all(f"{base}/webhook/alertmanager", bodies, concurrency=CONCURRENCY)
    timelines.wait_idle(st.redis, prefix, TIMEOUT, poll=0.05)
    st.stop([web, *pool])
    incidents = timelines.incidents(st.redis, prefix)
    ends = [epoch(e["at"]) for i in incidents for e in i.of("step.ok")]
    skipped = sum(1 for i in incidents if i.of("playbook.skipped"))
    seconds = (max(ends) - t0) if ends else float("nan")
    return {
        "non_200": sum(1 for a in answers if a.status != 200),
        "incidents": len(incidents),
        "actions": len(ends),
        "runs_skipped_playbook_lock": skipped,
        "seconds": seconds,
        "actions_per_s": len(ends) / seconds if ends else 0.0,
        "alerts_handled_per_s": (len(ends) + skipped) / seconds if ends else 0.0,
        "request_ms": summary([a.latency for a in answers]),
    }
