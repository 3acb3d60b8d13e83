"""The drain and storm+canary sections of docs/benchmarks.md.

:func:`sections` renders whichever of ``drain`` and ``canary`` are stored, each beside the
figures of the code before the change when they were stored too (``python -m bench drain
--responder-tree <checkout>`` stores them under ``before``).
"""

from __future__ import annotations

from statistics import median_low
from typing import Any

DRAIN_TARGET_S = 40.0
"""Issue 9: 10,000 alerts drained within 40 s on the 2-core machine, two workers."""


def headline(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The few figures printed on the terminal after the drain or canary benchmark."""
    if name == "drain":
        return {
            n: {k: s[k] for k in ("drain_seconds", "alerts_per_s", "lost", "duplicate_actions")}
            for n, s in result["series"].items()
        }
    if name == "canary":
        return {k: result.get(k) for k in ("opened_s", "level2_late_s", "ack_applied_s")}
    return {}


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _load(entry: dict[str, Any]) -> str:
    """The 1-minute load average before → after."""
    before, after = entry.get("loadavg_before") or [None], entry.get("loadavg_after") or [None]
    return f"{_num(before[0], 2)} → {_num(after[0], 2)}"


def _drain_rows(label: str, entry: dict[str, Any]) -> list[str]:
    rows = []
    for count, s in entry["result"]["series"].items():
        memory = s.get("memory", {})
        cpu = s.get("cpu_seconds", {})
        rows.append(
            f"| {label} | {int(count):,} | {_num(s['drain_seconds'])} s | {_num(s['alerts_per_s'])} "
            f"| {_num(s.get('first_action_seconds'))} s | {s['lost']} / {s['duplicate_actions']} "
            f"| {_num(cpu.get('workers', s.get('worker_cpu_seconds')))} / {_num(cpu.get('redis'))} "
            f"/ {_num(cpu.get('sink'))} "
            f"| {_num(memory.get('web', {}).get('peak_pss_mib'))} / "
            f"{_num(memory.get('workers', {}).get('peak_pss_mib'))} / "
            f"{_num(memory.get('control_worker', {}).get('peak_pss_mib'))} "
            f"| {_num(s.get('loadavg_before', [None])[0], 2)} |"
        )
    return rows


def pair_medians(result: dict[str, Any]) -> dict[str, float] | None:
    """Median before and after drain times (s) of the interleaved pairs, their range, or None."""
    pairs = result.get("pairs") or []
    if not pairs:
        return None
    before = [p["before"]["drain_seconds"] for p in pairs]
    after = [p["after"]["drain_seconds"] for p in pairs]
    return {
        "before": median_low(before),
        "after": median_low(after),
        "after_min": min(after),
        "after_max": max(after),
        "ratio": median_low([a / b for a, b in zip(after, before, strict=True)]),
        "pairs": len(pairs),
    }


def _pair_rows(pairs: list[dict[str, Any]]) -> list[str]:
    rows = []
    for i, pair in enumerate(pairs, 1):
        before, after = pair["before"], pair["after"]
        order = "before, after" if i % 2 else "after, before"
        rows.append(
            f"| {i} ({order}) | {_num(before['drain_seconds'])} s | {_num(after['drain_seconds'])} s "
            f"| {after['drain_seconds'] / before['drain_seconds']:.2f} "
            f"| {_num(before.get('worker_cpu_seconds'))} / {_num(after.get('worker_cpu_seconds'))} "
            f"| {before['lost']} / {before['duplicate_actions']}, "
            f"{after['lost']} / {after['duplicate_actions']} "
            f"| {_num((before.get('loadavg_before') or [None])[0], 2)}, "
            f"{_num((after.get('loadavg_before') or [None])[0], 2)} |"
        )
    return rows


def drain_section(stored: dict[str, Any]) -> str:
    entry = stored["drain"]
    result = entry["result"]
    lines = [
        "## Drain: a storm of one rule, guard off",
        "",
        f"`python -m bench drain`: {' and '.join(f'{int(n):,}' for n in result['counts'])} distinct alerts "
        f"of one rule (`storm: off`, {result['per_payload']} alerts per webhook payload, "
        f"{result['concurrency']} requests in flight), each opening its own incident whose playbook does one "
        "`http.request` to a sink on 127.0.0.1. `responder serve` under gunicorn, "
        f"{result['general_workers']} general `responder worker`s and {result['control_workers']} "
        "control-only worker (`--lanes control`), as `responder up` runs them. Drained = the last request "
        "the sink received (the last `step.ok` agrees), from the first POST. Lost / duplicate: alerts whose "
        "action never reached the sink / reached it more than once. "
        f"Target (issue 9): 10,000 within {DRAIN_TARGET_S:.0f} s.",
        "",
        "| code | alerts | drained in | alerts/s | first action | lost / dup | CPU s: workers / redis / sink "
        "| peak PSS MiB: web / workers / control | load avg |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    pairs = result.get("pairs") or []
    if "drain_before" in stored and not pairs:
        lines += _drain_rows("before (main)", stored["drain_before"])
    lines += _drain_rows("after", entry)
    medians = pair_medians(result)
    if medians is not None:
        lines += [
            "",
            f"The {int(max(result['counts'])):,}-alert storm as {medians['pairs']} pairs, the code before "
            f"(`BENCH_DRAIN_BEFORE`, commit {result.get('before_commit') or result.get('before_tree')}) and "
            "after interleaved (the row above is the after run with the median time), so the drifts "
            "of this shared machine (the same code's worker CPU seconds varied by half between minutes) "
            f"fall on both: median before {medians['before']:.1f} s, after {medians['after']:.1f} s (range "
            f"{medians['after_min']:.1f}-{medians['after_max']:.1f} s), after/before {medians['ratio']:.2f}.",
            "",
            "| pair | before drained in | after drained in | after / before | worker CPU s before / after "
            "| lost / dup before, after | load avg before each |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            *_pair_rows(pairs),
        ]
    return "\n".join(lines)


def _canary_rows(label: str, entry: dict[str, Any]) -> list[str]:
    off = entry["result"]["guard_off"]
    return [
        f"| {label} | {_num(off.get('opened_s'), 3)} s | {_num(off.get('level2_late_s'), 3)} s "
        f"| {_num(off.get('ack_applied_s'), 3)} s | {off.get('intake_jobs_waiting_at_canary', '-')} "
        f"| {_num(off.get('storm_drain_seconds'))} s | {_load(off)} |"
    ]


def _guard_rows(label: str, entry: dict[str, Any]) -> list[str]:
    on = entry["result"]["guard_on"]
    return [
        f"| {label} | {on['alerts']:,} | {on['incidents']} ({on['storm_incidents']} storm, "
        f"{on['storm_members']:,} members) | {on['pages']} | {on['slack_messages']} | {on['playbook_runs']} "
        f"| {on['actions']} |"
    ]


def canary_section(stored: dict[str, Any]) -> str:
    entry = stored["canary"]
    result = entry["result"]
    lines = [
        "## Storm + canary",
        "",
        f"`python -m bench canary`: the drain's storm of {result['storm']:,} alerts (guard off, pages "
        f"nobody) and, {result['canary_after_s']:.0f} s after its first POST, one critical canary alert of "
        f"another rule (`escalation: {{after: {result['escalation_after_s']:.0f}s}}`, Slack faked on "
        "loopback). Opened = canary POST → `incident.opened`; level 2 late = its `escalation.level` 2 - "
        "(opened + after); ack = a "
        f"signed `POST /slack/interactions` Acknowledge, {result['ack_at_s']:.0f} s after the open, → "
        "`incident.acknowledged`. Targets (issue 9): < 1 s, ≤ 1.5 s, < 1 s.",
        "",
        "| code | canary opened | level 2 late | ack applied | intake jobs ahead of it | storm drained in "
        "| load avg |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    if "canary_before" in stored:
        lines += _canary_rows("before (main)", stored["canary_before"])
    lines += _canary_rows("after", entry)
    lines += [
        "",
        "The same storm with the guard on (default 25 new incidents per 10m; here the storm rule pages "
        "Slack on a one-level policy):",
        "",
        "| code | alerts | incidents | pages | Slack messages | playbook runs | actions |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    if "canary_before" in stored:
        lines += _guard_rows("before (main)", stored["canary_before"])
    lines += _guard_rows("after", entry)
    return "\n".join(lines)


def sections(stored: dict[str, Any]) -> list[str]:
    """The sections for what is stored, each followed by a blank line."""
    stored = dict(stored)
    for name in ("drain", "canary"):
        before = stored.get("before", {}).get(name)
        if before is not None:
            stored[f"{name}_before"] = before
    out: list[str] = []
    if "drain" in stored:
        out += [drain_section(stored), ""]
    if "canary" in stored:
        out += [canary_section(stored), ""]
    return out
