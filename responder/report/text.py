"""The report as text: for ``responder report`` and the daily digest."""

from __future__ import annotations

from typing import Any

from responder.config.durations import format_duration


def duration(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(round(seconds))


def share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def change(value: float | None) -> str:
    return "" if value is None else f" ({value:+.0f}%)"


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The headline figures, one per line, with the change against the window before when compared."""
    moved = report.get("change_percent", {})
    inc = report["incidents"]
    return [
        f"incidents opened: {inc['opened']}{change(moved.get('incidents.opened'))}"
        f"  acknowledged: {inc['acknowledged']}  resolved: {inc['resolved']}",
        f"MTTA: median {duration(report['mtta_seconds']['median'])}"
        f"{change(moved.get('mtta_seconds.median'))}, p90 {duration(report['mtta_seconds']['p90'])}",
        f"MTTR: median {duration(report['mttr_seconds']['median'])}"
        f"{change(moved.get('mttr_seconds.median'))}, p90 {duration(report['mttr_seconds']['p90'])}",
        f"auto-remediated: {inc['auto_remediated']} of {inc['resolved']} resolved"
        f" ({share(report['auto_remediated_share'])}){change(moved.get('auto_remediated_share'))}",
    ]


def render(report: dict[str, Any]) -> str:
    window = report["window"]
    lines = [f"incident report {window['since']} .. {window['until']}", *summary_lines(report)]
    if "previous" in report:
        prev = report["previous"]
        lines.append(f"window before ({prev['window']['since']} .. {prev['window']['until']}):")
        lines += ["  " + line for line in summary_lines(prev)]
    rules = [r for r in report["rules"] if r["incidents"] or r["runs"]["started"]]
    if rules:
        lines.append("")
        lines.append(f"{'rule':<32} {'incidents':>9} {'runs':>5} {'failed':>6} {'steps ok':>8} "
                     f"{'verified':>8} {'flapping':>8} {'storm':>5}")  # fmt: skip
        for rule in rules:
            verification = rule["verification"]
            lines.append(
                f"{rule['name']:<32} {rule['incidents']:>9} {rule['runs']['started']:>5} "
                f"{rule['runs']['failed']:>6} {share(rule['step_success_rate']):>8} "
                f"{share(verification['success_rate']):>8} {rule['flapping']:>8} {rule['storm']:>5}"
            )
    if report["teams"]:
        lines.append("")
        lines.append("pages: " + ", ".join(f"{t['name']} {t['pages']}" for t in report["teams"]))
    return "\n".join(lines)
