"""The webhook-ingest part of docs/benchmarks.md, from ``python -m bench ingest`` (bench/ingest.py).

:func:`section` renders the section, :func:`target_rows` adds the ingest targets to the summary
table.
"""

from __future__ import annotations

from typing import Any

from bench.report.fmt import ms, provenance, table

TARGET = 0.8
"""Issue 9: the responder at ≥ 0.8 x the bare baseline's req/s, at 1 and 10 alerts per payload."""
ISSUE_RATIOS = {"1": 0.42, "10": 0.32}
"""What issue 9 measured on main with wrk before the change."""
NAMES = {
    "baseline": "bare Flask + LPUSH",
    "app": "responder's app, webhook cut to one LPUSH",
    "checked": "responder's app + its checks, then one LPUSH",
    "before": "responder, before",
    "responder": "responder",
}
STEPS = (
    ("baseline", "app", "the app around the webhook (hooks, Host guard, sessions, error handling)"),
    ("app", "checked", "the checks: auth, body, pydantic validation, caps, each alert's JSON, routing"),
    ("checked", "responder", "dedupe and durable queueing (the accept script) instead of one LPUSH"),
)
"""The steps from the baseline to the responder, as the stage servers (bench/ingest_stages.py) cut it."""


def _durable(s: dict[str, Any]) -> str:
    d = s.get("durable")
    if not d:
        return "-"
    ok = d["all_stored"] and d["work_queued"]
    verdict = "yes" if ok else "**no**"
    return f"{verdict} ({d['stored_alerts']} stored / {d['expected_alerts']} answered 2xx)"


def section(entry: dict[str, Any]) -> str:
    """``## Webhook ingest``: the table of every series, how it was measured, the latency plot."""
    r = entry["result"]
    rows = []
    for per in ("1", "10"):
        for name in NAMES:
            s = r["series"].get(f"{name}/{per}")
            if s is None:
                continue
            lat = s["latency_ms"]
            rows.append(
                [
                    NAMES[name],
                    per,
                    f"{s['rps']:.0f}",
                    f"{s['ratio_rps']:.3f}x" if "ratio_rps" in s else "1 (baseline)",
                    ms(lat["p50"]),
                    ms(lat["p99"]),
                    f"{s.get('non_2xx', s['errors'])} / {s.get('socket_errors', 0)}",
                    f"{s['cpu_ms_per_request']['web']:.2f}",
                    f"{s['cpu_ms_per_request']['redis']:.2f}",
                    f"{s['client_cpu']:.2f}",
                    _durable(s),
                ]
            )
    header = [
        "server",
        "alerts/payload",
        "req/s",
        "vs baseline",
        "p50 ms",
        "p99 ms",
        "non-2xx / socket errors",
        "web CPU ms/req",
        "Redis CPU ms/req",
        "wrk cores",
        "every 2xx durable",
    ]
    before = r.get("before_tree")
    before_note = (
        f' "Responder, before" is the checkout at `{before}` (the code before this change), run in the '
        "same rounds."
        if before
        else ""
    )
    client = r.get("client", f"closed loop at concurrency {r['concurrency']}")
    return f"""## Webhook ingest

`POST /webhook/alertmanager` loaded by {client}: `wrk` is C, so the load takes little of the
2 cores the servers share ("wrk cores"). {r["rounds"]} round(s) of {r["warmup"]:.0f} s warm-up +
{r["duration"]:.0f} s measured per series, the series interleaved so drift hits every server alike;
"req/s" and the CPU columns are the median round's, and "vs baseline" is the median over rounds of
each round's ratio to the baseline measured in the same round, so a slow spell of this shared
machine during one series moves one round, not the figure.
All run under gunicorn with the same settings ({r["web_workers"]} workers x {r["web_threads"]} gthread
threads). The baseline (`bench/baseline_app.py`) does one `LPUSH` of the body; the responder validates
the payload, checks its caps, dedupes every alert and queues the work in one Redis script
(`responder/store/ingest.py`).{before_note} Every request carries alerts no other request carries
(wrk's Lua script numbers each thread's requests into the fingerprints and labels), so nothing is a
duplicate. No RQ worker runs, so this is the web path alone. "Web CPU ms/req" is the user+system CPU of
all gunicorn processes over the requests served. "Every 2xx durable": after each series, Redis held
the alerts of every request answered 2xx (a few more is normal: wrk stops counting at the deadline
while the server still answers what is in flight) and each batch had its work queued (its id on the
intake list with a drain job queued, or, before, a job of its own).

{provenance(entry)}

{table(header, rows)}

![ingest latency CDF](bench/ingest.png)
{_steps(r["series"])}"""


def _cpu_us(s: dict[str, Any]) -> float:
    """Web + Redis CPU per request, in µs."""
    return 1000 * (s["cpu_ms_per_request"]["web"] + s["cpu_ms_per_request"]["redis"])


def _steps(series: dict[str, Any]) -> str:
    """Where the time goes: what each step from the baseline to the responder adds, from the stage
    servers of the same rounds (absent in runs from before they existed)."""
    if "checked/10" not in series:
        return ""
    cpu = {key: _cpu_us(s) for key, s in series.items()}
    rows = []
    for low, high, what in STEPS:
        row = [what]
        for per in ("1", "10"):
            row += [
                f"{cpu[f'{high}/{per}'] - cpu[f'{low}/{per}']:+.0f}",
                f"{series[f'{high}/{per}']['ratio_rps']:.2f}x",
            ]
        rows.append(row)
    header = [
        "step",
        "1 alert: CPU µs/req added",
        "req/s after it",
        "10 alerts: CPU µs/req added",
        "req/s after it",
    ]
    budget = {per: cpu[f"baseline/{per}"] / TARGET - cpu[f"checked/{per}"] for per in ("1", "10")}
    spent = {per: cpu[f"responder/{per}"] - cpu[f"checked/{per}"] for per in ("1", "10")}
    left = " and ".join(
        f"{budget[per]:.0f} µs at {per} alert{'s' if per != '1' else ''}"
        if budget[per] >= 0
        else f"nothing at {per} alerts (the checks alone spend {-budget[per]:.0f} µs more than 0.8x allows)"
        for per in ("1", "10")
    )
    return f"""
### Where the time goes

The two stage servers are the responder's own app (`bench/ingest_stages.py`), cut short and
then storing with one `LPUSH` like the baseline; they act on nothing and exist only here. "CPU
µs/req added" is the web and Redis CPU per request a step adds to the one before it, all in the
same rounds.

{table(header, rows)}

At {TARGET}x of the baseline the responder may spend {1 / TARGET:.2f} times the baseline's CPU per
request. After the checks, what is left of that for deduplicating the alerts and queueing their
work durably is {left}; the accept script spends {spent["1"]:.0f} µs at 1 alert and
{spent["10"]:.0f} µs at 10.
"""


def target_rows(stored: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, earlier, this run, met) rows for the summary's targets table."""
    if "ingest" not in stored:
        return []
    series = stored["ingest"]["result"]["series"]
    rows: list[tuple[str, str, str, bool | None]] = []
    for per in ("1", "10"):
        ours, bare = series[f"responder/{per}"], series[f"baseline/{per}"]
        before = series.get(f"before/{per}")
        other = stored.get("before", {}).get("ingest", {}).get("result", {}).get("series", {})
        if before:  # BENCH_INGEST_BEFORE: the other checkout in the same rounds
            ratio = before["ratio_rps"]
            earlier = f"{before['rps']:.0f} vs {bare['rps']:.0f} req/s, {ratio:.3f}x (same run)"
        elif f"responder/{per}" in other:  # python -m bench ingest --responder-tree: a run of its own
            theirs, their_bare = other[f"responder/{per}"], other[f"baseline/{per}"]
            earlier = f"{theirs['rps']:.0f} vs {their_bare['rps']:.0f} req/s, {theirs['ratio_rps']:.2f}x"
        else:
            earlier = f"{ISSUE_RATIOS[per]:.2f}x (issue 9, wrk)"
        durable = ours.get("durable", {})
        met = ours["ratio_rps"] >= TARGET and bool(durable.get("all_stored", True))
        rows.append(
            (
                f"ingest ≥ {TARGET}x of bare baseline ({per} alert/payload), every 2xx durable",
                earlier,
                f"{ours['rps']:.0f} vs {bare['rps']:.0f} req/s, {ours['ratio_rps']:.3f}x",
                met,
            )
        )
    return rows
