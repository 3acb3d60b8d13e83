"""Sections about operating it: Redis failover, the cost of the incident report."""

from __future__ import annotations

from typing import Any

from bench.report.fmt import provenance, table


def failover_section(entry: dict[str, Any]) -> str:
    r = entry["result"]
    rows = [
        [
            i + 1,
            f"{d['failover_s']:.2f}",
            "-" if d["outage_s"] is None else f"{d['outage_s']:.2f}",
            d["failed_attempts"],
            f"{d['backlog_s']:.2f}",
            f"{d['timer_moved_late_s']:+.2f}",
            f"{d['timer_late_s']:+.2f}",
        ]
        for i, d in enumerate(r["rounds_detail"])
    ]
    header = [
        "round",
        "failover (s)",
        "outage seen (s)",
        "failed posts",
        "backlog cleared (s)",
        "level 2 queued late (s)",
        "level 2 paged late (s)",
    ]
    return f"""## Sentinel failover under load

{r["rounds"]} failovers of a Sentinel set on loopback (one primary, one replica, three sentinels,
`down-after-milliseconds {r["down_after_ms"]}`), with `responder serve` and two `responder worker` on
`redis+sentinel://`, the same processes throughout (the killed node rejoins as a replica between rounds).
In each round alerts arrive at {r["rate_per_s"]:.0f} per second, each retried until answered 200 as
Alertmanager does, and the primary is SIGKILLed a second before an escalation's level 2 is due. From the
kill: *failover*, until the sentinels name the new primary; *outage seen*, the sender's first failed post
to its first 200 after the last failure; *backlog cleared*, until every alert tried before then has a
finished run; *level 2 queued late*, when RQ's scheduler put the timer on the queue minus when it was due;
*paged late*, paged minus due (the difference is the timer's wait in the control lane, which no
alert or step shares, and its Slack call).

{provenance(entry)}

{table(header, rows)}

Alerts sent: {r["alerts_sent"]}; answered 200 but lost: {r["lost"]}; incidents opened twice:
{r["incidents_opened_twice"]}; processes restarted: {", ".join(r["processes_restarted"]) or "none"}.
"""


def report_cost_section(entry: dict[str, Any]) -> str:
    r = entry["result"]
    rows = [
        ["`/api/report?since=7d` (hourly buckets)", f"{r['report']['p50_ms']:.0f} ms",
         f"{r['report']['max_ms']:.0f} ms"],
        ["the same with `compare=1` (two weeks)", f"{r['report_compare']['p50_ms']:.0f} ms",
         f"{r['report_compare']['max_ms']:.0f} ms"],
        ["baseline: read every incident of the week", f"{r['scan_baseline']['p50_ms']:.0f} ms",
         f"{r['scan_baseline']['max_ms']:.0f} ms"],
    ]  # fmt: skip
    return f"""## Report: {r["incidents"]:,} incidents in the window

`python -m bench report_cost`: {r["incidents"]:,} incidents spread over seven days, written with the
responder's own recording functions into a private Redis ({r["redis_used_memory_mb"]:.0f} MB with the
incident records). The report adds up 168 hourly counter hashes and lets Redis merge the hourly
sorted sets of durations and return only the values at the median and p90 ranks; the baseline
reads every incident record of the window and computes the same figures in Python. Both give the
same median time to acknowledge ({r["median_mtta"]["report"]:.1f} s vs {r["median_mtta"]["scan"]:.1f} s).

{provenance(entry)}

{table(["what", "p50", "max"], rows)}
"""
