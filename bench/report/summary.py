"""Where the figures stand against the targets, what changed for them, what is left.

"Before" is the code before the storm work (issue 9), measured in the same session with the
same harness (``python -m bench <name> --responder-tree <checkout>``, stored under ``before``;
for ingest, ``BENCH_INGEST_BEFORE`` puts it in the same rounds).
"""

from __future__ import annotations

from typing import Any

from bench.report import drain, ingest
from bench.report.fmt import get, ms, table, yes

Row = tuple[str, str, str, bool | None]


def _seconds(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def _drain_rows(stored: dict[str, Any]) -> list[Row]:
    after = get(stored, "drain", "result", "series", "10000")
    if not after:
        return []
    before = get(stored, "before", "drain", "result", "series", "10000")
    done = after["drained"] and after["lost"] == 0 and after["duplicate_actions"] == 0
    title = f"10,000 alerts drained within {drain.DRAIN_TARGET_S:.0f} s (2 workers), none lost or run twice"
    medians = drain.pair_medians(get(stored, "drain", "result") or {})
    if medians is not None:
        pairs = get(stored, "drain", "result", "pairs")
        after_runs = [p["after"] for p in pairs]
        clean = all(r["drained"] and r["lost"] == 0 and r["duplicate_actions"] == 0 for r in after_runs)
        return [
            (
                title,
                f"{medians['before']:.1f} s (median of {medians['pairs']} runs interleaved with the after's)",
                f"median {medians['after']:.1f} s of {medians['pairs']} runs (range "
                f"{medians['after_min']:.1f}-{medians['after_max']:.1f} s; after/before "
                f"{medians['ratio']:.2f}); lost 0, twice 0"
                if clean
                else f"median {medians['after']:.1f} s; a run lost or repeated an action (see Drain)",
                clean and medians["after"] <= drain.DRAIN_TARGET_S,
            )
        ]
    return [
        (
            title,
            f"{before['drain_seconds']:.1f} s ({before['alerts_per_s']:.0f}/s)"
            if before
            else "96 s (issue 9)",
            f"{after['drain_seconds']:.1f} s ({after['alerts_per_s']:.0f}/s); lost {after['lost']}, "
            f"twice {after['duplicate_actions']}",
            done and after["drain_seconds"] <= drain.DRAIN_TARGET_S,
        )
    ]


def _canary_rows(stored: dict[str, Any]) -> list[Row]:
    after = get(stored, "canary", "result", "guard_off")
    if not after:
        return []
    before = get(stored, "before", "canary", "result", "guard_off") or {}
    rows: list[Row] = []
    for key, label, limit, issue in (
        ("opened_s", "storm + canary: canary alert → incident opened < 1 s", 1.0, "19 s"),
        ("level2_late_s", "storm + canary: its level 2 ≤ 1.5 s late", 1.5, "68 s"),
        ("ack_applied_s", "storm + canary: a Slack ack click applied < 1 s", 1.0, "-"),
    ):
        value = after.get(key)
        earlier = _seconds(before.get(key)) if key in before else f"{issue} (issue 9, 10,000 alerts)"
        rows.append((label, earlier, _seconds(value), value is not None and value <= limit))
    on = get(stored, "canary", "result", "guard_on")
    if on:
        on_before = get(stored, "before", "canary", "result", "guard_on")
        rows.append(
            (
                "storm guard on (25 per 10m): incidents, pages, playbook runs (no target)",
                f"{on_before['incidents']}, {on_before['pages']}, {on_before['playbook_runs']}"
                if on_before
                else "-",
                f"{on['incidents']} ({on['storm_incidents']} storm incident, {on['storm_members']:,} "
                f"members), {on['pages']} pages, {on['playbook_runs']} runs",
                None,
            )
        )
    return rows


def _kept_rows(stored: dict[str, Any]) -> list[Row]:
    """The earlier issues' figures, re-measured after the change."""
    rows: list[Row] = []
    for key, series in (get(stored, "latency", "result", "series") or {}).items():
        p99 = series["finished_ms"]["p99"]
        old = get(stored, "before", "latency", "result", "series", key, "finished_ms", "p99")
        rows.append(
            (
                f"alert-to-action p99 < 250 ms at idle, {key} worker(s)",
                "-" if old is None else f"{ms(old)} ms",
                f"{ms(p99)} ms",
                p99 < 250,
            )
        )
    esc = get(stored, "escalation", "result")
    if esc:
        for level in ("2", "3"):
            late = esc["late_ms"][level]
            old = get(stored, "before", "escalation", "result", "late_ms", level, "p99")
            rows.append(
                (
                    f"escalation level {level} within 1.5 s of due, never early (p99 late; earliest)",
                    "-" if old is None else f"{ms(old)} ms late",
                    f"{ms(late['p99'])} ms late; earliest {ms(late['min'])} ms",
                    late["p99"] <= 1500 and late["min"] >= 0 and esc["missing"][level] == 0,
                )
            )
    storm = get(stored, "storm", "result")
    if storm:
        clean = storm["lost"] == 0 and storm["incidents_opened_twice"] == 0 and storm["duplicate_runs"] == 0
        old = get(stored, "before", "storm", "result")
        rows.append(
            (
                "storm from two Alertmanager replicas: zero loss, zero duplicate runs",
                "-" if not old else f"{old['alerts']} alerts in {old['drain_seconds']:.0f} s",
                f"{storm['alerts']} alerts in {storm['drain_seconds']:.0f} s; lost {storm['lost']}, "
                f"opened twice {storm['incidents_opened_twice']}, duplicate runs {storm['duplicate_runs']}",
                clean and storm["drained"],
            )
        )
    failover = get(stored, "failover", "result")
    if failover:
        rows.append(
            (
                "Sentinel failover under load: no accepted alert lost, no process restarted",
                "-",
                f"{failover['alerts_sent']} alerts, lost {failover['lost']}, restarted "
                f"{', '.join(failover['processes_restarted']) or 'none'}",
                failover["lost"] == 0 and not failover["processes_restarted"],
            )
        )
    cost = get(stored, "report_cost", "result")
    if cost:
        rows.append(
            (
                f"report over {cost['incidents']:,} incidents without scanning them (no target)",
                f"scan: {cost['scan_baseline']['p50_ms']:.0f} ms",
                f"{cost['report']['p50_ms']:.0f} ms",
                None,
            )
        )
    return rows


def targets(stored: dict[str, Any]) -> list[Row]:
    """(target, before, this run, met) for every target with a stored result."""
    return [*ingest.target_rows(stored), *_drain_rows(stored), *_canary_rows(stored), *_kept_rows(stored)]


def summary_section(stored: dict[str, Any]) -> str:
    rows = [[t, now, "-" if met is None else yes(met), before] for t, before, now, met in targets(stored)]
    if not rows:
        return ""
    return (
        "## Where we stand against the targets\n\n"
        + table(["target", "after (this run)", "met", "before (same session, same harness)"], rows)
        + "\n\n*Before* is the code before the storm work (commit 9f159e7: lanes, storm guard and honest "
        "paging already in, none of the speed-ups below), measured with this harness in the same session "
        "(`--responder-tree`); where a cell quotes the issue, the issue's own figure on the older main "
        "(one queue for everything) is given instead."
    )


CHANGED = """## What changed (issue 9)

Profiled with py-spy on the workers and the gunicorn tree under the benchmarks above, then:

- **Ingest** (`responder/store/ingest.py`, `responder/webhook/`): one Lua script per request, registered
  once and run by `EVALSHA`, dedupes, stores the batch and puts its id on an *intake list*; one drain
  job (intake lane) works through that list instead of one RQ job per request (RQ's job building and
  its 15-field hash were a quarter of the request). Alerts are serialised once by pydantic-core, the
  answer is written without `jsonify`, the caps skip byte counting when the body is under them.
  Durable-before-200, `REDIS_WAIT_REPLICAS`, 503 on Redis down and the orphan sweep are unchanged
  (the sweep also knows batches waiting on the list and batches a lost drain job had taken).
- **Critical first through intake**: the web routes each firing alert (a few µs) and puts a batch that
  would open or join a critical incident at the head of the intake list, so the canary no longer
  waits behind the storm's batches.
- **Intake** (`responder/incidents/intake.py`): a batch's new incidents of `storm: off` rules open
  together, locks taken with the plan's reads in one round trip and the opens in one transaction
  (per alert that was five round trips). Rules with a storm limit still decide alert by alert, under
  the rule's storm lock, which also closes a race main had (two workers both opening the 25th).
- **Steps** (`responder/playbooks/`): a step reads its snapshot in two round trips, claims its target
  lock and notes the target in one script, and writes its outcome, timeline lines and the lock's
  release in one transaction (about ten round trips besides RQ's, now five); compiled templates are
  kept per process; `http.request` reuses one connection pool per worker process (no cookies kept).
- **hiredis** (`redis[hiredis]`): redis-py's C parser and packer; a storm's workers spent about 15%
  of their CPU in the Python ones (the drain went from 34-39 s to 28-30 s in one session), and the
  web's share at 10 alerts per payload fell too.
- **Worker** (`responder/worker_lean.py`): RQ's per-job bookkeeping trimmed (no WATCH on dependents we
  never have, no end-of-job heartbeat for a job younger than a heartbeat, the idle state written with
  the next heartbeat, the execution record and the job's start in one round trip, one heartbeat
  thread per worker): about eight of RQ's round trips per job, now four or five.
"""


def left_section(stored: dict[str, Any]) -> str:
    parts = ["## What is left", ""]
    short = [
        f"- **{t}**: {now} (before: {before})." for t, before, now, met in targets(stored) if met is False
    ]
    if short:
        parts += ["Below target in this run:", "", *short, ""]
    else:
        parts += ["Every stated target is met in this run.", ""]
    parts.append(
        """**Drain.** The 10,000-alert drain is measured as before/after pairs interleaved in one run,
because this shared machine's speed drifts by minutes (single runs of the same code took 28 to 42 s in
one session, and its worker CPU seconds varied as much). What a storm step still costs is RQ itself
(dequeue, job hash, registries: about a quarter of a worker's CPU in py-spy), `requests` around the
`http.request` call (about a fifth), and our five Redis round trips. One RQ job per run (with a
checkpoint per step) would save nothing here: each run has one step. Running the first steps of many
runs in one job would, but the orphan sweep re-queues a lost step by its job id, one per run and
step, and a job shared between runs would reopen the Redis-crash window the sweep exists for.

**Ingest.** "Where the time goes" (in the ingest section) cuts the responder's own app short in
the same rounds. The app around the webhook and the request's checks (validation, caps, each alert's
JSON, routing) already spend most of the 0.25x of the baseline's CPU that 0.8x leaves; what is left for
deduplicating the alerts and queueing their work durably is a few tens of µs per request at best, less
than the ten `SET NX` of the dedupe alone cost Redis under this load. So 0.8x at 10 alerts would take
answering before validating and deduplicating (no `accepted`/`duplicates` in the answer and no 400 for
a bad alert, which DESIGN.md section 4 promises and a sender's logs rely on), or serving this route
outside Flask (without the app's guard, error handling and body limits). Neither is worth it for a
rate far above what an Alertmanager sends: the table's req/s times ten is alerts accepted per second.
Measured and not kept, in-process, at 10 alerts: the dedupe keys as members of two week-long sets
(`SMISMEMBER`/`SADD`) instead of a key per alert, Redis CPU 64 -> 54 µs per request, at the price of a
dedupe window of one to two weeks instead of one and one large key expiring at once; validation into
TypedDicts instead of models, 4 µs less web CPU; earlier, the dedupe keys packed into one script
argument, a native `startsAt` check, one thread per gunicorn worker and `gc.freeze()`, each within
this machine's noise. Only hiredis moved the figure. In-process profiles understate what a request
costs under load: in this session the checks at 10 alerts took about 35 µs of CPU in-process and
about 135 µs under wrk, the accept script about 75 µs and 120 µs (two gunicorn processes of four
threads, Redis and wrk share two cores), which is why the stage servers measure it under wrk."""
    )
    return "\n".join(parts)


MISSING = """## Not measured / caveats

- Absolute figures come from a 2-core machine on which the servers, Redis, the workers and the load
  generator share the cores; compare the ratios and the before/after pairs, which were taken in one
  session with the same harness.
- Ingest load comes from `wrk` (C); the other benchmarks send with aiohttp, which takes some of the
  same cores ("client cores" where shown).
- The processes run from bytecode cached in the run's temporary directory, as an installed package
  would (this machine sets `PYTHONDONTWRITEBYTECODE=1`).
- Slack is faked on loopback at the HTTP level where pages are timed (escalation, failover, canary);
  real channels add their API latency to the control lane's jobs.
"""
