"""A ``responder worker`` with the fix proposed in docs/benchmarks.md applied, to measure its gain.

Not shipped, not used in production: the latency benchmark runs it beside the real
``responder worker`` so the report can say what the fix buys on the same machine in
the same run. ``--simple`` also runs jobs in the worker process instead of a fork.

The fix: build the runtime through :func:`responder.runtime.current` (so it is cached
in the parent and every forked work horse inherits it instead of re-reading the YAML
config and re-seeding flags per job), and import the job modules before forking (so a
work horse does not import them again for every job).
"""

from __future__ import annotations

import argparse
import importlib
import os

from rq import Queue, SimpleWorker

from responder import runtime
from responder import worker as worker_mod

JOB_MODULES = (
    "responder.jobs",
    "responder.incidents.service",
    "responder.playbooks.runner",
    "responder.escalation.timers",
    "responder.escalation.paging",
    "responder.notify.dispatch",
    "responder.actions.registry",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--simple", action="store_true", help="run jobs in-process (RQ SimpleWorker)")
    args = parser.parse_args()
    current = runtime.current()
    for name in JOB_MODULES:
        importlib.import_module(name)
    if not args.simple:
        worker_mod.run(current.redis, current.keys)
        return
    worker = SimpleResponderWorker(
        [Queue(current.keys.queue_name, connection=current.redis)],
        connection=current.redis,
        job_monitoring_interval=worker_mod.HEARTBEAT,
        maintenance_interval=int(os.environ.get("RESPONDER_MAINTENANCE_INTERVAL", worker_mod.MAINTENANCE)),
    )
    worker.work(with_scheduler=True, logging_level="INFO")


class SimpleResponderWorker(SimpleWorker):
    get_heartbeat_ttl = worker_mod.ResponderWorker.get_heartbeat_ttl


if __name__ == "__main__":
    main()
