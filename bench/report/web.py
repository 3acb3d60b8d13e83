"""Sections about the web path: the machine, webhook ingest, the peer."""

from __future__ import annotations

from typing import Any

from bench.report.fmt import pct3, provenance, table


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
            "\n\nThe machine is shared: other engineers' test suites ran during the earlier run; during "
            "this one nobody else ran heavy work (see the load averages under each section). Absolute "
            "times drift from run to run; the ratios against a baseline taken in the same run are the "
            "figures to compare."
        )
    )


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
so nothing is a duplicate. No RQ worker runs, so this is the web path alone (none of the shipped fixes
touch it). "Web CPU ms/req" is the user+system CPU of all gunicorn processes divided by the requests
served; "client cores" is what the load generator itself used of the same 2 cores.

{provenance(entry)}

{table(header, rows)}

![ingest latency CDF](bench/ingest.png)
"""


def peer_section(entry: dict[str, Any]) -> str:
    r = entry["result"]
    rows = []
    for name, label in (
        ("webhook", "adnanh/webhook, `sh -c 'echo >> file'` per hook"),
        ("responder", f"responder, one `flags.set` per alert, {r['workers']} workers"),
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
opened but whose playbook did not run because a run of the same playbook on the same target (the
one `benchSeq` flag, as in the storm) held the lock. The web path and the workers share the 2 cores
while the requests arrive.

{provenance(entry)}

{table(header, rows)}
"""
