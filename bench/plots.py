"""PNG plots of the latency distributions (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _cdf(ax: Any, values: Sequence[float], label: str) -> None:
    ordered = sorted(values)
    if not ordered:
        return
    ys = [(i + 1) / len(ordered) for i in range(len(ordered))]
    ax.step(ordered, ys, where="post", label=label)


def _finish(fig: Any, ax: Any, path: Path, title: str, xlabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of samples ≤ x")
    for p in (0.5, 0.95, 0.99):
        ax.axhline(p, color="grey", linewidth=0.5, linestyle=":")
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ingest(result: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for key, series in result["series"].items():
        name, per = key.split("/")
        _cdf(ax, series["samples"], f"{name}, {per} alert(s)/payload ({series['rps']:.0f} req/s)")
    ax.set_xscale("log")
    _finish(
        fig,
        ax,
        path,
        f"POST /webhook/alertmanager latency at concurrency {result['concurrency']}",
        "latency (ms, log scale)",
    )


def latency(result: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for series in result["series"].values():
        _cdf(ax, series["samples_finished"], f"{series['workers']} worker(s)")
    ax.set_xscale("log")
    ax.axvline(250, color="red", linewidth=0.8, linestyle="--", label="target p99 250 ms")
    _finish(fig, ax, path, "Alert received → flags.set step finished, at idle", "latency (ms, log scale)")


def escalation(result: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for level in ("1", "2", "3"):
        _cdf(ax, [x / 1000 for x in result["samples"][level]], f"level {level}")
    ax.axvline(1.5, color="red", linewidth=0.8, linestyle="--", label="target 1.5 s")
    _finish(
        fig,
        ax,
        path,
        f"Escalation fired - due ({result['incidents']} incidents, after {result['after_s']:.0f}s)",
        "seconds late",
    )


def storm(result: dict[str, Any], path: Path) -> None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    depth = result["depth_samples"]
    top.plot([t for t, _ in depth], [q for _, q in depth])
    top.set_ylabel("jobs queued")
    top.set_title(f"Storm: {result['alerts']} alerts, each payload posted twice; {result['workers']} workers")
    top.grid(True, linewidth=0.3)
    for name, role in result["memory"].items():
        samples = role["samples"]
        bottom.plot([t for t, _ in samples], [m for _, m in samples], label=f"{name} (PSS, all processes)")
    bottom.set_ylabel("MiB")
    bottom.set_xlabel("seconds since the first request")
    bottom.grid(True, linewidth=0.3)
    bottom.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
