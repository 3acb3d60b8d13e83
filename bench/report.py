"""docs/benchmarks.md and docs/bench/*.png, from the stored results (bench/out/results.json)."""

from __future__ import annotations

import json
import math
from typing import Any

from bench import plots
from bench.procs import REPO, VARIANT_LABELS

RESULTS = REPO / "bench" / "out" / "results.json"
DOC = REPO / "docs" / "benchmarks.md"
PLOTS = REPO / "docs" / "bench"


def load() -> dict[str, Any]:
    try:
        return dict(json.loads(RESULTS.read_text()))
    except (OSError, ValueError):
        return {}


def save(stored: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(stored))


def headline(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The few figures printed on the terminal after a benchmark."""
    if name == "ingest":
        return {
            k: {"rps": round(v["rps"]), "p99_ms": round(v["latency_ms"]["p99"], 1)}
            for k, v in result["series"].items()
        }
    if name == "latency":
        return {k: {"finished_p99_ms": round(v["finished_ms"]["p99"])} for k, v in result["series"].items()}
    if name == "storm":
        keys = (
            "alerts",
            "lost",
            "incidents_opened_twice",
            "duplicate_runs",
            "drain_seconds",
            "peak_queue_depth",
        )
        return {k: result[k] for k in keys}
    if name == "escalation":
        return {
            k: {lvl: round(v["late_ms"][lvl]["p99"]) for lvl in ("2", "3")}
            for k, v in result["series"].items()
        }
    if name == "peer":
        return {k: round(result[k]["actions_per_s"], 1) for k in ("webhook", "responder", "responder_fixed")}
    return {}


# -- formatting -----------------------------------------------------------------------------------------


def ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"


def pct3(summary: dict[str, Any]) -> str:
    return " | ".join(ms(summary.get(f"p{p}")) for p in (50, 95, 99))


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def provenance(entry: dict[str, Any]) -> str:
    mode = "quick sizes" if entry["quick"] else "full sizes"
    return (
        f"*Measured {entry['measured_at']} ({mode}, {entry['seconds']:.0f} s) by `{entry['command']}`; "
        f"load average {entry['loadavg_before']:.1f} before, {entry['loadavg_after']:.1f} after; "
        f"responder at commit {entry.get('commit', '?')} (the tree is shared: uncommitted edits may differ).*"
    )


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


# -- sections -------------------------------------------------------------------------------------------


def machine_section(m: dict[str, Any]) -> str:
    pk = m.get("packages", {})
    rows = [
        ["cores (`nproc`)", m.get("nproc")],
        ["CPU", m.get("cpu")],
        ["memory", f"{m.get('memory_gib')} GiB"],
        ["kernel", m.get("kernel")],
        ["Python", m.get("python")],
        ["redis-server", m.get("redis_server")],
        ["redis-py / rq", f"{pk.get('redis')} / {pk.get('rq')}"],
        ["Flask / gunicorn / pydantic", f"{pk.get('Flask')} / {pk.get('gunicorn')} / {pk.get('pydantic')}"],
        ["hiredis", pk.get("hiredis")],
        ["load generator", f"aiohttp {pk.get('aiohttp')} (asyncio, keep-alive, on 127.0.0.1)"],
        ["peer", f"adnanh/webhook {m.get('webhook')} (Debian package `webhook`)"],
        ["profiler", m.get("py_spy")],
        [
            "commit",
            f"{m.get('commit')} (+{m.get('dirty_files_outside_bench')} uncommitted files outside bench/)",
        ],
    ]
    return (
        "## Machine\n\n"
        + table(["", ""], rows)
        + (
            "\n\nThe machine is shared: other engineers' test suites ran during these measurements "
            "(see the load averages under each section). Absolute times drift from run to run; the "
            "ratios against a baseline taken in the same run are the figures to compare."
        )
    )


def summary_section(stored: dict[str, Any]) -> str:
    rows: list[list[str]] = []
    if "ingest" in stored:
        s = stored["ingest"]["result"]["series"]
        for per in ("1", "10"):
            ratio = s[f"responder/{per}"]["ratio_rps"]
            rows.append(
                [
                    f"ingest ≥ ½ of bare baseline ({per} alert/payload)",
                    f"{s[f'responder/{per}']['rps']:.0f} vs {s[f'baseline/{per}']['rps']:.0f} req/s"
                    f" = {ratio:.2f}x",
                    yes(ratio >= 0.5),
                ]
            )
    if "latency" in stored:
        for key, series in stored["latency"]["result"]["series"].items():
            if series["variant"]:
                continue
            p99 = series["finished_ms"]["p99"]
            rows.append(
                [f"alert-to-action p99 < 250 ms at idle, {key} worker(s)", f"{ms(p99)} ms", yes(p99 < 250)]
            )
    if "escalation" in stored:
        shipped = stored["escalation"]["result"]["series"]["shipped"]
        for level in ("2", "3"):
            p99 = shipped["late_ms"][level]["p99"]
            rows.append(
                [
                    f"escalation level {level} within 1.5 s of due (p99)",
                    f"{ms(p99)} ms late",
                    yes(p99 <= 1500),
                ]
            )
    if "storm" in stored:
        r = stored["storm"]["result"]
        clean = (
            r["lost"] == 0 and r["incidents_opened_twice"] == 0 and r["duplicate_runs"] == 0 and r["drained"]
        )
        rows.append(
            [
                f"storm ({r['alerts']} alerts, x2 replicas) drains, zero loss, zero duplicate runs",
                f"drained in {r['drain_seconds']:.0f} s; lost {r['lost']}, opened twice "
                f"{r['incidents_opened_twice']}, duplicate runs {r['duplicate_runs']}",
                yes(clean),
            ]
        )
        skipped = r["runs_skipped_playbook_lock"]
        rows.append(
            [
                "every storm incident runs its playbook (not a stated target)",
                f"{skipped} of {r['incidents']} runs skipped by the one-run-per-playbook lock",
                yes(skipped == 0),
            ]
        )
    if "peer" in stored:
        r = stored["peer"]["result"]
        rows.append(
            [
                "peer: end-to-end actions/s vs adnanh/webhook (no target)",
                f"{r['responder']['actions_per_s']:.1f} vs {r['webhook']['actions_per_s']:.0f} /s = "
                f"{r['responder']['ratio_actions_per_s']:.3f}x",
                "-",
            ]
        )
    if not rows:
        return ""
    return "## Where we stand against the targets\n\n" + table(["target", "measured", "met"], rows)


def ingest_section(entry: dict[str, Any]) -> str:
    r = entry["result"]
    rows = []
    for per in ("1", "10"):
        for name in ("baseline", "responder"):
            s = r["series"][f"{name}/{per}"]
            ratio = f"{s['ratio_rps']:.2f}x" if "ratio_rps" in s else "1 (baseline)"
            rows.append(
                [
                    "bare Flask + LPUSH" if name == "baseline" else "responder",
                    per,
                    f"{s['rps']:.0f}",
                    ratio,
                    pct3(s["latency_ms"]),
                    s["errors"],
                    f"{s['cpu_ms_per_request']['web']:.2f}",
                    f"{s['cpu_ms_per_request']['redis']:.2f}",
                    f"{s['client_cpu']:.2f}",
                ]
            )
    header = [
        "server",
        "alerts/payload",
        "req/s",
        "req/s vs baseline",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "web CPU ms/req",
        "Redis CPU ms/req",
        "client cores",
    ]
    return f"""## Webhook ingest

`POST /webhook/alertmanager` at a fixed {r["concurrency"]} requests in flight (closed loop, keep-alive),
{r["rounds"]} round(s) of {r["warmup"]:.0f} s warm-up + {r["duration"]:.0f} s measured per series, the series
interleaved so drift hits both servers alike. Both run under gunicorn with the same settings
({r["web_workers"]} workers x {r["web_threads"]} gthread threads). The baseline
(`bench/baseline_app.py`) does one `LPUSH` of the body; the responder validates the payload, dedupes every
alert and enqueues the batch job in one MULTI/EXEC. Every payload holds alerts no other payload holds,
so nothing is a duplicate. No RQ worker runs, so this is the web path alone. "Web CPU ms/req" is the
user+system CPU of all gunicorn processes divided by the requests served; "client cores" is what the
load generator itself used of the same 2 cores.

{provenance(entry)}

{table(header, rows)}

![ingest latency CDF](bench/ingest.png)
"""


def latency_section(entry: dict[str, Any]) -> str:
    r = entry["result"]
    rows = []
    phases = []
    for series in r["series"].values():
        label = f"{series['workers']}" + (
            f" ({VARIANT_LABELS[series['variant']]})" if series["variant"] else ""
        )
        rows.append(
            [
                label,
                series["measured"],
                pct3(series["opened_ms"]),
                pct3(series["started_ms"]),
                pct3(series["finished_ms"]),
                ms(series["step_ms"]["p50"]),
            ]
        )
        for job, ph in series["jobs"].items():
            phases.append([label, job, ph["wait_ms"]["n"], pct3(ph["wait_ms"]), pct3(ph["run_ms"])])
    header = [
        "workers",
        "alerts",
        "→ incident opened p50",
        "p95",
        "p99",
        "→ step started p50",
        "p95",
        "p99",
        "→ step finished p50",
        "p95",
        "p99",
        "flags.set itself p50",
    ]
    return f"""## Alert-to-action latency (at idle)

One alert at a time: the next is sent {r["gap_s"] * 1000:.0f} ms after the previous run finished and the queue
emptied, so nothing waits behind another alert. All instants come from the incident timeline: the web
process's `received_at`, `incident.opened` (the batch job), and `step.ok` (the step's end and its
`seconds`, so start = end - seconds). Milliseconds; the rule's playbook is one `flags.set`.
Rows naming a fix run `bench/fixed_worker.py`, not the shipped worker: they measure the fixes
proposed under [Suggested fixes](#suggested-fixes).

{provenance(entry)}

{table(header, rows)}

Where the time goes, from RQ's own job timestamps (wait = enqueued → started in the work horse, i.e.
dequeue + fork + RQ set-up; run = started → ended, i.e. our job function including whatever it builds
first), in ms:

{table(["workers", "job", "jobs", "wait p50", "p95", "p99", "run p50", "p95", "p99"], phases)}

![alert-to-action latency CDF](bench/latency.png)
"""


def storm_section(entry: dict[str, Any]) -> str:
    r = entry["result"]
    started = ", ".join(f"{k} run(s): {v}" for k, v in sorted(r["runs_started_per_incident"].items()))
    rows = [
        ["alerts (distinct) / payloads / requests", f"{r['alerts']} / {r['payloads']} / {r['requests']}"],
        ["answers other than 200", r["non_200"]],
        ["accepted / duplicates (sum of answers)", f"{r['accepted']} / {r['duplicates']}"],
        ["incidents opened", r["incidents"]],
        ["alerts without an incident (lost)", r["lost"]],
        ["incidents opened twice for one alert", r["incidents_opened_twice"]],
        ["playbook runs started per incident", started],
        ["duplicate runs", r["duplicate_runs"]],
        ["flags.set actions run", r["actions_run"]],
        ["runs skipped: playbook already running (lock)", r["runs_skipped_playbook_lock"]],
        ["failed jobs", r["jobs_failed"]],
        ["requests sent in", f"{r['send_seconds']:.1f} s"],
        ["request latency p50 / p95 / p99", pct3(r["request_ms"]).replace(" | ", " / ") + " ms"],
        ["time to drain (first request → last timeline entry)", f"{r['drain_seconds']:.1f} s"],
        ["drain rate", f"{r['alerts'] / r['drain_seconds']:.1f} alerts/s"],
        ["peak queue depth (jobs waiting)", r["peak_queue_depth"]],
    ]
    note = ""
    if r["alerts"] < 10_000:
        rate = r["alerts"] / r["drain_seconds"]
        note = (
            f"\n\nThis run used {r['alerts']} alerts, not the issue's 10,000, to keep the whole run near "
            f"10 minutes on this shared machine. At the drain rate measured here ({rate:.1f} alerts/s, "
            f"which is steady once the queue holds work) 10,000 alerts would take about "
            f"{10_000 / rate / 60:.0f} minutes; `python -m bench storm` runs the full size."
        )
    return f"""## Alert storm

{r["payloads"]} payloads of {r["per_payload"]} distinct alerts; two "Alertmanager replicas" post every payload
(each replica {r["replica_concurrency"]} requests in flight, both at once), against `responder serve` and
{r["workers"]} `responder worker` processes. Every alert has its own `instance`, and the rule groups by
`alertname, instance`, so every alert must open exactly one incident and run the playbook once.{note}

{provenance(entry)}

{table(["", ""], rows)}

![storm queue depth and memory](bench/storm.png)
"""


def memory_section(entry: dict[str, Any]) -> str:
    r = entry["result"]
    rows = [
        [
            name,
            role["peak_processes"],
            f"{role['peak_pss_mib']:.0f}",
            f"{role['peak_rss_process_mib']:.0f}",
        ]
        for name, role in r["memory"].items()
    ]
    return f"""## Memory (during the storm)

Sampled every 250 ms over the storm above: every process in each tree (gunicorn master and workers;
RQ workers, their forked work horses and the scheduler). PSS splits pages shared after `fork` between
the processes sharing them, so the sum is the tree's real footprint; RSS is for the largest single
process.

{provenance(entry)}

{table(["role", "processes (peak)", "peak PSS, whole tree (MiB)", "peak RSS, one process (MiB)"], rows)}
"""


def escalation_section(entry: dict[str, Any]) -> str:
    r = entry["result"]
    rows = []
    for name, series in r["series"].items():
        for level in ("1", "2", "3"):
            s = series["late_ms"][level]
            rows.append(
                [
                    VARIANT_LABELS["" if name == "shipped" else name],
                    level,
                    s["n"],
                    series["missing"][level],
                    pct3(s),
                    ms(s.get("min")),
                    ms(s["max"]),
                    series.get("early", {}).get(level, "-"),
                    f"{100 * series['within_1_5s'][level]:.0f} %",
                ]
            )
    header = [
        "worker",
        "level",
        "fired",
        "missing",
        "p50",
        "p95",
        "p99",
        "earliest",
        "latest",
        "fired early",
        "within ±1.5 s",
    ]
    return f"""## Escalation precision

{r["incidents"]} incidents opened at {r["rate_per_s"]:.0f} per second by a rule with
`escalation: {{policy: default, after: {r["after_s"]:.0f}s}}` and `notify: [slack]` (no Slack token: each send
is recorded as skipped, the level still lands in the timeline), {r["workers"]} workers. Level 1 is due at
once, level 2 at +{r["after_s"]:.0f} s, level 3 at +{2 * r["after_s"]:.0f} s after `incident.opened`; the
table gives fired - due from the `escalation.level` entries, in ms (negative: fired before it was due).
Each worker runs RQ's scheduler (one holds the lock), which moves due jobs to the queue once a second
and keeps due times in whole seconds: a timer due at 12:00:02.700 is stored as 12:00:02 and can fire up
to a second early; the table shows both sides.

{provenance(entry)}

{table(header, rows)}

![escalation lateness CDF](bench/escalation.png)
"""


def peer_section(entry: dict[str, Any]) -> str:
    r = entry["result"]
    rows = []
    for name, label in (
        ("webhook", "adnanh/webhook, `sh -c 'echo >> file'` per hook"),
        ("responder", f"responder, one `flags.set` per alert, {r['workers']} workers"),
        ("responder_fixed", f"responder, {VARIANT_LABELS['fixed-simple']}, {r['workers']} workers"),
    ):
        s = r[name]
        skipped = s.get("runs_skipped_playbook_lock")
        handled = s.get("alerts_handled_per_s", s["actions_per_s"])
        rows.append(
            [
                label,
                s["actions"],
                "-" if skipped is None else skipped,
                f"{s['seconds']:.2f}",
                f"{s['actions_per_s']:.1f}",
                f"{handled:.1f}",
                f"{s.get('ratio_actions_per_s', 1):.3f}x",
                pct3(s["request_ms"]),
            ]
        )
    header = [
        "server",
        "actions",
        "skipped (lock)",
        "seconds",
        "actions/s",
        "alerts done/s (incl. skipped)",
        "actions/s vs webhook",
        "request p50",
        "p95",
        "p99",
    ]
    return f"""## Peer: adnanh/webhook

{r["requests"]} requests to each, {r["concurrency"]} in flight, the same one-alert Alertmanager payloads.
Actions/s = actions done ÷ (last action's end - first request). webhook answers before its command
runs and keeps no state: no validation, dedupe, incident, retry, timeline or durability, so this is
the price of those per alert, not a like-for-like race. "Skipped" runs are alerts whose incident
opened but whose playbook did not run because another incident's run of the same playbook held the
lock (see the fixes). Here the web path and the workers share the 2 cores while the requests arrive, so
the worker fix changes little: both responder rows are bounded by ingest and by the lock skips.

{provenance(entry)}

{table(header, rows)}
"""


def profile_section(stored: dict[str, Any]) -> str:
    parts = ["## Bottleneck", ""]
    lat = stored.get("latency", {}).get("result", {}).get("series", {})
    shipped, fixed, simple = lat.get("1"), lat.get("1 fixed"), lat.get("1 fixed-simple")
    if shipped:
        jobs = shipped["jobs"]
        parts.append(
            "**Workers: every RQ job pays a cold start.** `responder worker` is RQ's forking `Worker`: each "
            "job runs in a freshly forked work horse. The parent builds its runtime with "
            "`runtime.build()` but never stores it where `runtime.current()` looks, and never imports the "
            "job modules (`responder/jobs.py` imports them inside each function), so *every* job, in its "
            "fresh fork, re-reads and re-validates the YAML config (`load_config`), recompiles the rules, "
            "re-seeds the flags in Redis and imports the incident, playbook, escalation and notification "
            "modules (escalation jobs import slack_sdk and the e-mail and PagerDuty channels). "
            f"At idle a `process_batch` job runs {ms(jobs['process_batch']['run_ms']['p50'])} ms (p50) and "
            f"an `execute_step` job {ms(jobs['execute_step']['run_ms']['p50'])} ms, for a `flags.set` that "
            f"itself takes {ms(shipped['step_ms']['p50'])} ms; the fork and RQ's set-up add "
            f"{ms(jobs['process_batch']['wait_ms']['p50'])}-{ms(jobs['execute_step']['wait_ms']['p50'])} ms "
            "of wait per job. An alert needs two jobs before its action, so this cold start is nearly all "
            "of the alert-to-action latency, and it caps throughput: the storm, escalation and peer figures "
            "are all this same cost times the number of jobs."
        )
        parts.append("")
        four = lat.get("4")
        if four:
            parts.append(
                f"Four workers are faster than one even at idle ({ms(four['finished_ms']['p50'])} vs "
                f"{ms(shipped['finished_ms']['p50'])} ms p50) for the same reason: the step job is enqueued "
                "inside the batch job, and a single worker picks it up only after the batch job's work horse "
                "has finished RQ's bookkeeping and exited, while with four an idle worker takes it at once."
            )
            parts.append("")
    esc = stored.get("escalation", {}).get("result", {}).get("series", {})
    if esc.get("shipped"):
        late = esc["shipped"]["late_ms"]
        parts.append(
            "**Escalation lateness is the same cold start, queued.** An escalation job imports the "
            "notification channels (slack_sdk, e-mail, PagerDuty) in its fresh work horse; while incidents "
            "keep opening, level timers wait behind batch and other escalation jobs, so level 2 fires "
            f"{ms(late['2']['p50'])} ms late at p50 and {ms(late['2']['p99'])} ms at p99. With the proposed "
            "worker the backlog disappears and what is left is RQ's whole-second scheduling (early or late "
            "by up to a second)."
        )
        parts.append("")
    if shipped and fixed and simple:
        parts.append(
            table(
                ["worker (1, at idle)", "received → step finished p50", "p95", "p99"],
                [
                    ["shipped `responder worker`", pct3(shipped["finished_ms"])],
                    ["runtime cached + job modules imported before fork", pct3(fixed["finished_ms"])],
                    ["… and jobs run in the worker process (RQ `SimpleWorker`)", pct3(simple["finished_ms"])],
                ],
            ).replace(" | ", " | ", 1)
        )
        parts.append("")
    prof = stored.get("profile", {}).get("result")
    if prof:
        horses = prof["work_horses"]
        if horses["samples"] >= 30:
            cats = ", ".join(f"{name} {share} %" for name, share in horses["categories"].items())
            parts.append(
                f"py-spy (`python -m bench profile`, {prof['rate']} Hz, `--subprocesses`) over "
                f"{prof['alerts']} paced alerts on one worker, work-horse samples only "
                f"({horses['samples']} samples; py-spy attaches to each fork a little late, so the first "
                f"milliseconds of each horse, where imports happen, are under-counted): {cats}."
            )
            parts.append("")
            parts.append(
                table(
                    ["work-horse frame (inclusive)", "% of samples"],
                    [[f"`{f}`", s] for f, s in horses["top"][:14]],
                )
            )
        else:
            parts.append(
                f"py-spy caught only {horses['samples']} samples of forked work horses in this run (at "
                f"commit {stored['profile'].get('commit', '?')}: none at all once the worker runs jobs "
                "in-process; otherwise each horse lives tens of milliseconds and py-spy finds children by "
                "polling); the RQ timestamps and the A/B against `bench/fixed_worker.py` above are the "
                "evidence."
            )
        parts.append("")
        web = prof["web"]
        parts.append(
            f"The web path under load (py-spy on the gunicorn tree, {web['samples']} samples): the request "
            "is dominated by the one MULTI/EXEC round trip (`Pipeline.execute`), whose commands include "
            "RQ's full job hash; validation is a small share."
        )
        parts.append("")
        parts.append(
            table(["web frame (inclusive)", "% of samples"], [[f"`{f}`", s] for f, s in web["top"][:14]])
        )
        parts.append("")
    if "ingest" in stored:
        s = stored["ingest"]["result"]["series"]
        parts.append(
            "**Web: CPU per request.** At the same gunicorn settings the responder spends "
            f"{s['responder/1']['cpu_ms_per_request']['web']:.2f} ms of web CPU per 1-alert request and "
            f"{s['responder/10']['cpu_ms_per_request']['web']:.2f} ms per 10-alert request, against "
            f"{s['baseline/1']['cpu_ms_per_request']['web']:.2f} / "
            f"{s['baseline/10']['cpu_ms_per_request']['web']:.2f} ms for the bare app; on 2 cores shared "
            "with Redis and the load generator, throughput follows CPU per request. The extra is RQ's "
            "job creation (`Queue.enqueue_call` builds and serialises a `Job` and HSETs about 15 fields) "
            "and redis-py packing and parsing the 8-command transaction in pure Python; pydantic "
            "validation and the per-alert JSON are small."
        )
        parts.append("")
    return "\n".join(parts)


FIXES = """## Suggested fixes

1. **Cache the worker's runtime and pre-import the job modules before forking** (`responder/cli.py`,
   `worker`): call `rt.current()` instead of `rt.build(...)` so the runtime lands in
   `runtime._current` (forked work horses inherit it and `current()` then costs one `GET` of the
   config version), and import `responder.incidents.service`, `responder.playbooks.runner`,
   `responder.escalation.timers`, `responder.escalation.paging` and `responder.notify.dispatch`
   before `worker_mod.run(...)`. redis-py resets an inherited connection pool after `fork` (it checks
   the pid), so horses open their own connection. Measured gain: the *fix 1* rows
   (`bench/fixed_worker.py` does exactly this).
2. **Run jobs without forking** (`responder/worker.py`, `build_worker`): base `ResponderWorker` on
   `rq.SimpleWorker` instead of `rq.Worker`. Job timeouts still hold (RQ's SIGALRM death penalty runs
   in the worker's main thread); what is lost is the fork's isolation: a job that leaks memory or
   crashes the interpreter takes the worker down, and the job is then retried as an abandoned job
   (DESIGN §7 already requires that). Measured gain: the *fixes 1+2* rows (latency, escalation,
   peer). If isolation is wanted, RQ's `--max-jobs`/`max_idle_time` or a supervisor restart bounds
   the leak risk.
3. **The one-run-per-playbook lock is global** (`responder/safety.py`, `acquire_playbook_lock` uses
   target `"global"`): two incidents with different keys that run the same playbook at the same time
   skip one run ("already running"), which the storm and peer tables count. DESIGN §7 says "one run of
   a playbook per target at a time"; taking the lock per incident key (or per rendered target, e.g.
   namespace/deployment) would keep the protection without dropping runs for unrelated incidents.
4. **Escalation timers can fire up to a second early** (`responder/escalation/timers.py`, `start`): RQ
   stores a scheduled job's time as whole seconds (`calendar.timegm`), truncating `opened_at + due_in`.
   Rounding up, `datetime.fromtimestamp(math.ceil(opened_at + level.due_in), UTC)`, makes a timer never
   fire before it is due, at the price of up to one more second late (still inside the 1.5 s target
   once jobs no longer queue behind cold starts).
5. **Web path** (smaller): register the dedupe script once (`redis.register_script`, EVALSHA) instead of
   sending its source with every request (`responder/store/ingest.py`, `accept`), and build the RQ
   `Queue` once per process; installing `hiredis` lets redis-py parse replies in C. Each is a few
   percent of web CPU per request; none changes the picture above.
"""


MISSING = """## Not measured / caveats

- Absolute figures come from a 2-core machine shared with other engineers' test runs; compare ratios,
  which are taken in the same run.
- The load generator (Python, aiohttp) shares the 2 cores with the servers it measures ("client cores"
  above); `wrk` would take less CPU from them.
- The processes run from bytecode cached in the run's temporary directory, as an installed package
  would. This machine sets `PYTHONDONTWRITEBYTECODE=1`; under it every work horse also recompiles the
  modules it imports, roughly doubling the per-job cold start.
- No Slack, e-mail or PagerDuty traffic: sends are recorded as skipped. Real channels add their API
  latency to escalation jobs.
"""


def write(stored: dict[str, Any]) -> None:
    PLOTS.mkdir(parents=True, exist_ok=True)
    sections = [
        "# Benchmarks",
        "",
        "How fast alert-responder takes a webhook, turns an alert into an action, escalates on time and "
        "survives an alert storm, each beside a baseline or peer measured in the same run. Produced by "
        "`bench/` (not tests); every benchmark starts its own private `redis-server`, `responder serve` "
        "under gunicorn and `responder worker` processes, sends traffic to 127.0.0.1 only, and tears "
        "everything down.",
        "",
        "```sh",
        'pip install -e ".[bench]"          # matplotlib, aiohttp',
        "apt-get install -y webhook redis-server && pip install py-spy   # peer and profiler",
        "python -m bench all                # everything, the sizes of issue 5 (long: see the storm note)",
        "python -m bench all --quick        # small sizes, a few minutes",
        "python -m bench ingest|latency|storm|escalation|peer|memory|profile [--quick]",
        "python -m bench report             # rewrite this page from bench/out/results.json",
        "```",
        "",
    ]
    if "machine" in stored:
        sections += [machine_section(stored["machine"]), ""]
    sections += [summary_section(stored), ""]
    renderers = (
        ("ingest", ingest_section, plots.ingest),
        ("latency", latency_section, plots.latency),
        ("storm", storm_section, plots.storm),
        ("storm", memory_section, None),
        ("escalation", escalation_section, plots.escalation),
        ("peer", peer_section, None),
    )
    for name, render, plot in renderers:
        if name in stored:
            sections += [render(stored[name]), ""]
            if plot is not None:
                plot(stored[name]["result"], PLOTS / f"{name}.png")
    sections += [profile_section(stored), "", FIXES, MISSING]
    DOC.write_text("\n".join(sections).rstrip() + "\n")
