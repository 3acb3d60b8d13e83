"""Issue 5's run: the figures before its fixes and the fixes, for the summary and "What we changed"."""

from __future__ import annotations

BEFORE = {
    "ingest": {"1": (440, 721, 0.61, 2.66), "10": (385, 811, 0.47, 3.28)},
    "latency_finished": {"1": (98, 157), "4": (79, 115)},
    "latency_jobs": {"process_batch": (29, 12), "execute_step": (44, 16)},
    "storm": {"alerts": 1000, "drain_s": 39.4, "rate": 25.4, "skipped": 349, "peak_depth": 891},
    "memory_workers": (11, 253),
    "escalation": {"1": (88, 693, 23, 0), "2": (615, 1245, -403, 9), "3": (643, 1196, -704, 18)},
    "escalation_incidents": 200,
    "peer": {"actions_per_s": 23.9, "ratio": 0.048, "skipped": 225, "requests": 500, "p99_ms": 717},
}
"""The previous run's figures (docs/benchmarks.md before the worker, lock and timer fixes shipped),
kept as the "before" column. Measured with the same harness on this machine; the sections record
these commits (the shared tree may have held uncommitted edits)."""
BEFORE_COMMITS = {
    "ingest": "e214403",
    "latency": "ca4546a",
    "storm": "9aa12b8",
    "escalation": "9aa12b8",
    "peer": "fe5f7e4",
}

FIX_COMMITS = {
    1: ("61da5ae", "Worker: build the runtime and import job modules before forking"),
    2: ("0f91362", "Worker: run jobs in the worker process, with a heartbeat thread"),
    3: ("06ac1a5", "One run of a playbook per target, not per playbook"),
    4: ("09b5581", "Escalation timers never fire early"),
    5: ("11f0fce", "Escalation timers: hand to RQ at the whole second before, wait out the rest in the job"),
}
