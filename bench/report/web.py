"""Sections about the machine and the peer (webhook ingest: bench/report/ingest.py)."""

from __future__ import annotations

from typing import Any

from bench.report.fmt import pct3, provenance, table


def machine_section(m: dict[str, Any]) -> str:
    pk = m.get("packages", {})
    rows: list[list[Any]] = [
        ["cores (`nproc`)", m.get("nproc")],
        ["CPU", m.get("cpu")],
        ["memory", f"{m.get('memory_gib')} GiB"],
        ["kernel", m.get("kernel")],
        ["Python", m.get("python")],
        ["redis-server", m.get("redis_server")],
        ["redis-py / rq", f"{pk.get('redis')} / {pk.get('rq')}"],
        ["Flask / gunicorn / pydantic", f"{pk.get('Flask')} / {pk.get('gunicorn')} / {pk.get('pydantic')}"],
        ["hiredis", pk.get("hiredis")],
        [
            "load generators",
            f"wrk {m.get('wrk', '?')} (ingest); aiohttp {pk.get('aiohttp')} (the others), on 127.0.0.1",
        ],
        ["peer", f"adnanh/webhook {m.get('webhook')} (Debian package `webhook`)"],
        ["profiler", m.get("py_spy")],
        ["commit", _commit(m)],
    ]
    return (
        "## Machine\n\n"
        + table(["", ""], rows)
        + (
            "\n\nNothing else ran heavy work during the final run (see the load averages under each "
            "section). Absolute times drift from run to run; the ratios against a baseline and the "
            "before/after pairs taken in the same session are the figures to compare."
        )
    )


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


def _commit(m: dict[str, Any]) -> str:
    dirty = m.get("dirty_files_outside_bench")
    if not dirty:
        return str(m.get("commit"))
    return f"{m.get('commit')} (+{dirty} uncommitted files outside bench/ and docs/)"
