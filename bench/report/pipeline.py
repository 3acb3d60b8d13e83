"""Sections about alerts becoming actions and pages: latency, the storm, memory, escalation."""

from __future__ import annotations

from typing import Any

from bench.report.fmt import ms, pct3, provenance, table


def latency_section(entry: dict[str, Any]) -> str:
    r = entry["result"]
    rows = []
    phases = []
    for series in r["series"].values():
        label = str(series["workers"])
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

{provenance(entry)}

{table(header, rows)}

Where the time goes, from RQ's own job timestamps (wait = enqueued → started, i.e. the worker's
dequeue and RQ's set-up, in the worker process itself; run = started → ended, i.e. our job function),
in ms:

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
        [
            "runs skipped: same playbook already running on the same target (lock)",
            r["runs_skipped_playbook_lock"],
        ],
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
            f"\n\nThis run used {r['alerts']} alerts, not the issue's 10,000. At the drain rate measured "
            f"here ({rate:.1f} alerts/s) 10,000 alerts would take about {10_000 / rate / 60:.0f} minutes; "
            "`python -m bench storm` runs the full size."
        )
    return f"""## Alert storm

{r["payloads"]} payloads of {r["per_payload"]} distinct alerts; two "Alertmanager replicas" post every payload
(each replica {r["replica_concurrency"]} requests in flight, both at once), against `responder serve` and
{r["workers"]} `responder worker` processes. Every alert has its own `instance`, and the rule groups by
`alertname, instance`, so every alert must open exactly one incident. The playbook (`bench_set_flag`)
sets the one flag `benchSeq` for every alert, so every run acts on the *same* target: the per-target
lock (docs/playbooks.md, Safety) still lets only one run at a time and skips the others that overlap
it. That is the lock doing its job, not a loss; runs on different targets would not be skipped.{note}

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
RQ workers, which now run their jobs in-process, so there are no forked work horses). PSS splits
pages shared after `fork` between the processes sharing them, so the sum is the tree's real
footprint; RSS is for the largest single process. The bench's redis-server runs with
`--appendonly yes`; a second redis process is most likely its fork for an AOF rewrite while the data set
grows (the earlier run held 1000 alerts, this one {r["alerts"]}).

{provenance(entry)}

{table(["role", "processes (peak)", "peak PSS, whole tree (MiB)", "peak RSS, one process (MiB)"], rows)}
"""


def escalation_section(entry: dict[str, Any]) -> str:
    r = entry["result"]
    rows = []
    for level in ("1", "2", "3"):
        s = r["late_ms"][level]
        rows.append(
            [
                level,
                s["n"],
                r["missing"][level],
                pct3(s),
                ms(s.get("min")),
                ms(s["max"]),
                r["early"][level],
                f"{100 * r['within_1_5s'][level]:.0f} %",
            ]
        )
    header = [
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
`escalation: {{policy: default, after: {r["after_s"]:.0f}s}}` and `notify: [slack]`, {r["workers"]} workers;
every level pages a fake Slack on loopback (a level that reaches nobody would be recorded as
unreached and page the next level at once). Level 1 is due at
once, level 2 at +{r["after_s"]:.0f} s, level 3 at +{2 * r["after_s"]:.0f} s after `incident.opened`; the
table gives fired - due from the `escalation.level` entries, in ms (negative: fired before it was due).
Each worker runs RQ's scheduler (one holds the lock), which moves due jobs to the control lane once a second
and keeps due times in whole seconds. Timers are handed to RQ at the whole second before they are due
and the job waits out the remaining fraction (11f0fce), so a level never fires early and is
at most about a second late (the scheduler's poll) plus queueing.

{provenance(entry)}

{table(header, rows)}

![escalation lateness CDF](bench/escalation.png)
"""
