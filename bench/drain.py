"""Drain: how fast a storm of distinct alerts of ONE rule becomes actions, guard off.

Each alert opens its own incident (``group_by: [alertname, instance]``, ``storm: off``) whose
playbook does one ``http.request`` to a sink this benchmark runs on 127.0.0.1. Measured: from
the first POST to the last action done (the last request the sink received, cross-checked
with the last ``step.ok`` in the timelines), alerts/s, that every alert's action arrived
exactly once (the sink counts per alert), and the peak PSS of the web and the workers.

The processes are the deployed layout in small, as ``responder up`` runs them: ``responder
serve`` under gunicorn, TWO general ``responder worker`` processes, and one control-only
worker (``responder worker --lanes control``). The drain rule pages nobody (no ``notify``),
so the figure is intake and steps; paging during a storm is the canary benchmark's.

``BENCH_DRAIN_BEFORE=/path/to/other/checkout`` measures the largest storm as pairs: that
checkout's responder (the "before") and this one, interleaved (before, after, after, before,
before, after), so the minutes-long drifts of this shared machine fall on both alike. The
series then holds the after run with the median drain time, and ``pairs`` every run.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from bench import alerts, load, machine, procs, timelines
from bench.stats import epoch
from responder.up import free_port

GENERAL_WORKERS = 2
PER_PAYLOAD = 10
"""Alerts per webhook payload (Alertmanager groups them)."""
CONCURRENCY = 4
STORM = "DrainAlert"
STORM_RULE = "drain_storm"


def sizes(quick: bool) -> dict[str, Any]:
    return {
        "counts": [200, 1000] if quick else [1000, 10000],
        "drain_timeout": 300 if quick else 600,
        "pairs": 1 if quick else 3,
    }


# -- the sink: what http.request steps (and the fake Slack) talk to --------------------------------------


class _Sink(BaseHTTPRequestHandler):
    """``POST /hit/<instance>`` counts one action; ``/api/<method>`` is a Slack Web API that says ok;
    ``/actions/...`` takes a click's ephemeral answer; ``GET /stats`` tells what arrived."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, the body of every answer on a
    # kept-alive connection waits for the client's delayed ACK (~40 ms). Real API servers set
    # TCP_NODELAY; so does this one, or the sink, not the responder, would be what is timed.
    disable_nagle_algorithm = True
    hits: ClassVar[Counter[str]] = Counter()
    first_hit: float | None = None
    last_hit: float | None = None
    slack: ClassVar[list[dict[str, Any]]] = []
    lock = threading.Lock()
    ts = 0

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self, status: int, body: dict[str, Any] | str) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        now = time.time()
        cls = type(self)
        if self.path.startswith("/hit/"):
            with cls.lock:
                cls.hits[self.path[5:]] += 1
                cls.first_hit = cls.first_hit or now
                cls.last_hit = now
            self._answer(200, {"ok": True})
            return
        if self.path.startswith("/api/"):
            method = self.path.rsplit("/", 1)[-1]
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            with cls.lock:
                cls.ts += 1
                ts = f"{1700000000 + cls.ts}.{cls.ts:06d}"
                cls.slack.append(
                    {
                        "at": now,
                        "method": method,
                        "channel": body.get("channel"),
                        "text": body.get("text", ""),
                    }
                )
            self._answer(200, {"ok": True, "channel": "C00000001", "ts": body.get("ts") or ts})
            return
        self._answer(200, "ok")  # a click's response_url

    def do_GET(self) -> None:
        cls = type(self)
        with cls.lock:
            if self.path.startswith("/stats/summary"):
                body: dict[str, Any] = {"actions": sum(cls.hits.values()), "last": cls.last_hit}
            else:
                body = {
                    "hits": dict(cls.hits),
                    "first": cls.first_hit,
                    "last": cls.last_hit,
                    "slack": list(cls.slack),
                }
        self._answer(200, body)


def _serve_sink(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Sink)
    server.daemon_threads = True
    server.serve_forever()


class Sink:
    """The sink in its own process, so it takes no time from the benchmark's own thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc = multiprocessing.get_context("fork").Process(
            target=_serve_sink, args=(self.port,), daemon=True
        )

    def __enter__(self) -> Sink:
        self._proc.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.summary()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the sink did not start")

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        self._proc.join(5)

    @property
    def pid(self) -> int:
        return int(self._proc.pid or 0)

    def _get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=30) as answer:
            return dict(json.loads(answer.read()))

    def summary(self) -> dict[str, Any]:
        return self._get("/stats/summary")

    def stats(self) -> dict[str, Any]:
        return self._get("/stats")


# -- the config and the processes ------------------------------------------------------------------------

RESPONDER_YAML = """\
teams:
  dev-team: {slack: "#bench-dev"}
  ops-team: {slack: "#bench-ops"}
escalation_policies:
  default:
    - [dev-team]
    - [dev-team, ops-team]
  storm:
    - [dev-team]
safety:
  max_actions_per_hour: 100000000
http:
  allowed_hosts: ["127.0.0.1"]
"""

PLAYBOOK = """\
name: drain_hit
description: One http.request to the benchmark's sink, per alert.
steps:
  - action: http.request
    with:
      method: POST
      url: "%s/hit/{{ alert.labels.instance }}"
      json: {fingerprint: "{{ alert.fingerprint }}"}
"""


def storm_rule(*, guard: bool = False, notify: bool = False) -> str:
    lines = [
        f"- name: {STORM_RULE}",
        f"  matchers: ['alertname = \"{STORM}\"']",
        "  severity: low",
        "  playbooks: [drain_hit]",
        "  group_by: [alertname, instance]",
    ]
    if not guard:
        lines.append("  storm: off")
    if notify:
        lines += ["  notify: [slack]", "  escalation: {policy: storm, after: 10m}"]
    return "\n".join(lines) + "\n"


def write_config(where: Path, sink_url: str, rules: str) -> Path:
    (where / "rules").mkdir(parents=True, exist_ok=True)
    (where / "playbooks").mkdir(exist_ok=True)
    (where / "responder.yaml").write_text(RESPONDER_YAML)
    (where / "rules" / "10-bench.yaml").write_text(rules)
    (where / "playbooks" / "drain_hit.yaml").write_text(PLAYBOOK % sink_url)
    return where


def env(st: procs.Stack, prefix: str, config: Path, **extra: str) -> dict[str, str]:
    out = st.env(prefix)
    out["RESPONDER_CONFIG_DIR"] = str(config)
    out.update(extra)
    return out


def start(
    st: procs.Stack, prefix: str, environ: dict[str, str]
) -> tuple[procs.Proc, str, list[procs.Proc], procs.Proc]:
    """web (gunicorn, 2 workers), two general workers and one control-only worker."""
    port = free_port()
    argv = [sys.executable, "-m", "responder", "serve", "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", str(procs.WEB_WORKERS), "--allow-unauthenticated"]
    web = st.spawn(f"web-{prefix}", argv, environ)
    base = f"http://127.0.0.1:{port}"
    procs.wait_http(f"{base}/health", web)
    worker = [sys.executable, "-m", "responder", "worker"]
    general = [st.spawn(f"worker-{prefix}-{i}", worker, environ) for i in range(GENERAL_WORKERS)]
    control = st.spawn(f"control-{prefix}", [*worker, "--lanes", "control"], environ)
    procs.wait_workers(st.redis, prefix, GENERAL_WORKERS, general)
    _wait_control(st, prefix, control)
    return web, base, general, control


def _wait_control(st: procs.Stack, prefix: str, proc: procs.Proc, timeout: float = 30) -> None:
    from rq import Queue, Worker

    from responder.scheduling import Lane
    from responder.store.keys import Keys

    queue = Queue(Keys(prefix).lane_queue(Lane.CONTROL), connection=st.redis)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        if Worker.count(queue=queue) >= GENERAL_WORKERS + 1:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the control worker did not come up:\n{proc.tail()}")


def storm_bodies(run: str, count: int) -> list[bytes]:
    return [
        alerts.body(STORM, run, first, min(PER_PAYLOAD, count - first))
        for first in range(0, count, PER_PAYLOAD)
    ]


def wait_actions(sink: Sink, st: procs.Stack, prefix: str, count: int, timeout: float) -> bool:
    """Until the sink has ``count`` actions and nothing is queued or running for a second."""
    return timelines.wait_idle(
        st.redis, prefix, timeout, poll=0.25, also=lambda: sink.summary()["actions"] >= count
    )


def memory_figures(memory: procs.MemorySampler) -> dict[str, Any]:
    return {
        name: {
            "peak_pss_mib": round(role.peak_pss_total / 2**20, 1),
            "peak_rss_process_mib": round(role.peak_rss_process / 2**20, 1),
            "peak_processes": role.peak_processes,
        }
        for name, role in memory.result.items()
    }


def drain_once(count: int, timeout: float, tree: Path | None = None) -> dict[str, Any]:
    """Drain ``count`` alerts with this checkout's responder, or with the one at ``tree``."""
    prefix = f"drain{count}"
    with procs.stack(tree) as st, Sink() as sink:
        config = write_config(st.workdir / "config", sink.url, storm_rule())
        web, base, general, control = start(st, prefix, env(st, prefix, config))
        bodies = storm_bodies(prefix, count)
        roles = {"web": [web.pid], "workers": [p.pid for p in general], "control_worker": [control.pid]}
        cpu_roles = {
            "workers": [p.pid for p in general],
            "control_worker": [control.pid],
            "web": [web.pid],
            "redis": [st.redis_proc.pid],
            "sink": [sink.pid],
        }
        cpu_before = {name: procs.cpu_seconds(pids) for name, pids in cpu_roles.items()}
        load_before = _loadavg()
        with procs.MemorySampler(roles, interval=0.5) as memory:
            t0 = time.time()
            answers = load.send_all(f"{base}/webhook/alertmanager", bodies, concurrency=CONCURRENCY)
            sent = time.time()
            drained = wait_actions(sink, st, prefix, count, timeout)
        cpu = {name: round(procs.cpu_seconds(pids) - cpu_before[name], 1) for name, pids in cpu_roles.items()}
        load_after = _loadavg()
        st.stop([web, *general, control])
        stats = sink.stats()
        incidents = timelines.incidents(st.redis, prefix)
    hits: dict[str, int] = stats["hits"]
    step_ok = [epoch(e["at"]) for i in incidents for e in i.of("step.ok")]
    last = stats["last"] or t0
    seconds = last - t0
    return {
        "alerts": count,
        "drained": drained,
        "non_200": sum(1 for a in answers if a.status != 200),
        "send_seconds": round(sent - t0, 2),
        "drain_seconds": round(seconds, 2),
        "alerts_per_s": round(count / seconds, 1) if seconds > 0 else None,
        "last_step_ok_seconds": round(max(step_ok) - t0, 2) if step_ok else None,
        "first_action_seconds": round(stats["first"] - t0, 2) if stats["first"] else None,
        "actions": sum(hits.values()),
        "lost": count - len(hits),
        "duplicate_actions": sum(n - 1 for n in hits.values() if n > 1),
        "incidents": len(incidents),
        "steps_ok": len(step_ok),
        "worker_cpu_seconds": cpu["workers"],
        "cpu_seconds": cpu,
        "memory": memory_figures(memory),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


PAIR_FIELDS = ("drain_seconds", "alerts_per_s", "first_action_seconds", "worker_cpu_seconds", "lost")
PAIR_FIELDS += ("duplicate_actions", "drained", "loadavg_before")


def _measured(count: int, timeout: float, tree: str | None = None) -> dict[str, Any]:
    """One drain of ``count`` alerts by this checkout's responder, or by the one at ``tree``."""
    print(f"bench: drain {count} alerts{' (before)' if tree else ''} ...", flush=True)
    result = drain_once(count, timeout, Path(tree) if tree else None)
    shown = {k: v for k, v in result.items() if k != "memory"}
    print(f"bench: drain {count}: {json.dumps(shown)}", flush=True)
    return result


def _pairs(count: int, timeout: float, tree: str, rounds: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``rounds`` before/after pairs in ABBA order; returns their figures and the median after run."""
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for i in range(rounds):
        order = ("before", "after") if i % 2 == 0 else ("after", "before")
        for which in order:
            runs[which].append(_measured(count, timeout, tree if which == "before" else None))
    pairs = [
        {which: {k: runs[which][i].get(k) for k in PAIR_FIELDS} for which in ("before", "after")}
        for i in range(rounds)
    ]
    median = sorted(runs["after"], key=lambda r: r["drain_seconds"])[(rounds - 1) // 2]
    return pairs, median


def run(quick: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    size = {**sizes(quick), **(overrides or {})}
    before_tree = os.environ.get("BENCH_DRAIN_BEFORE")
    series: dict[str, Any] = {}
    pairs: list[dict[str, Any]] = []
    largest = max(size["counts"])
    for count in size["counts"]:
        if before_tree and count == largest:
            pairs, series[str(count)] = _pairs(count, size["drain_timeout"], before_tree, size["pairs"])
        else:
            series[str(count)] = _measured(count, size["drain_timeout"])
    return {
        **size,
        "general_workers": GENERAL_WORKERS,
        "control_workers": 1,
        "per_payload": PER_PAYLOAD,
        "concurrency": CONCURRENCY,
        "series": series,
        "before_tree": before_tree,
        "before_commit": machine.commit_of(Path(before_tree)) if before_tree else None,
        "pairs": pairs,
    }
