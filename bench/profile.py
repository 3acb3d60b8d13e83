"""Where the time goes: py-spy on a worker (jobs run in its process) and on the web processes.

Runs a short, paced alert-to-action load against one ``responder worker`` and a
closed-loop ingest load against ``responder serve``, samples both with
``py-spy record --subprocesses`` and keeps the frames that hold most samples.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import alerts, load, procs

RATE = 250
"""py-spy samples per second."""


def sizes(quick: bool) -> dict[str, Any]:
    return {"alerts": 60 if quick else 100, "ingest_seconds": 4.0 if quick else 6.0}


class PySpy:
    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        argv = [
            "py-spy",
            "record",
            "--subprocesses",
            "-r",
            str(RATE),
            "-f",
            "raw",
            "-o",
            str(out),
            "-p",
            str(pid),
        ]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # py-spy attaches

    def stop(self) -> list[tuple[list[str], int]]:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        stacks = []
        for line in self.out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            stacks.append((stack.split(";"), int(count)))
        return stacks


def _frame(frame: str) -> str:
    """``func (path/to/file.py:12)`` → ``func (file.py)``: one entry per function, not per line."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.split(':')[0]})" if where else name


BOILERPLATE = (
    "click/",
    "runpy",
    "threading.py",
    "concurrent/futures",
    "responder/__main__.py",
    "responder/cli.py",
)

CATEGORIES = (
    ("rebuilding the runtime (YAML config, rules, flag seed)", "build (responder/runtime.py"),
    ("importing modules", "_find_and_load ("),
    ("the job's own code", "Job.perform (rq/job.py"),
    ("RQ's bookkeeping around the job (Redis)", "perform_job ("),
)


def categorise(stacks: list[tuple[list[str], int]]) -> dict[str, float]:
    """Share of samples per category; a sample counts for the first category its stack matches."""
    total = sum(n for _, n in stacks) or 1
    shares: Counter[str] = Counter()
    for frames, n in stacks:
        joined = ";".join(frames)
        name = next((name for name, marker in CATEGORIES if marker in joined), "other")
        shares[name] += n
    return {name: round(100 * n / total, 1) for name, n in shares.most_common()}


def top_frames(stacks: list[tuple[list[str], int]], keep: int = 20) -> dict[str, Any]:
    """Inclusive share of samples per function (entry points and thread plumbing left out)."""
    total = sum(n for _, n in stacks)
    inclusive: Counter[str] = Counter()
    for frames, n in stacks:
        for frame in {_frame(f) for f in frames if not f.startswith("process ")}:
            if not any(b in frame for b in BOILERPLATE):
                inclusive[frame] += n
    # Frames on every sample (the worker loop, the fork) say nothing about where the time goes.
    inclusive = Counter({f: n for f, n in inclusive.items() if n < 0.995 * total})
    return {
        "samples": total,
        "top": [(frame, round(100 * n / total, 1)) for frame, n in inclusive.most_common(keep)]
        if total
        else [],
    }


def run(quick: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    if shutil.which("py-spy") is None:
        raise RuntimeError("profiling needs py-spy: pip install py-spy")
    size = {**sizes(quick), **(overrides or {})}
    with procs.stack() as st:
        prefix = "profile"
        web, base = st.responder_web(prefix)
        (worker,) = st.responder_workers(prefix, 1)
        spy = PySpy(worker.pid, st.workdir / "worker.raw")
        bodies = [alerts.one(alerts.ACTION, prefix, str(i)) for i in range(size["alerts"])]
        load.send_all(f"{base}/webhook/alertmanager", bodies, concurrency=1, pace=0.2)
        time.sleep(2)
        stacks = spy.stop()
        # Samples inside RQ's perform_job are the jobs; the rest is the worker waiting on Redis
        # (idle), its heartbeat thread and the scheduler.
        jobs = [(f, n) for f, n in stacks if any("perform_job (" in x for x in f)]
        worker_profile = {**top_frames(jobs), "categories": categorise(jobs)}

        spy = PySpy(web.pid, st.workdir / "web.raw")
        load.closed_loop(
            f"{base}/webhook/alertmanager",
            alerts.numbered(alerts.ACTION, "profile-ingest", 1),
            concurrency=16,
            duration=size["ingest_seconds"],
            warmup=0.5,
        )
        web_profile = top_frames(spy.stop())
    return {**size, "rate": RATE, "jobs": worker_profile, "web": web_profile}
