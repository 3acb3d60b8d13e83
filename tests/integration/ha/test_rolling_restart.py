"""A rolling restart of web and workers under load: in-flight requests finish, a worker stopped
mid-step hands the step back within its grace, and no accepted alert is lost."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from pytest_httpserver import HTTPServer
from redis import Redis
from werkzeug import Request, Response

from responder.store import connection
from responder.store import incidents as store
from responder.store.keys import Keys
from responder.up import free_port
from tests.drill import Responder, Sender, drill_alert, responder_env
from tests.redis_servers import Node

ALERTS = 120
EVERY = 0.05
GRACE = 2


class SlowFirstCall:
    """The playbook's sink: the first call for instance ``slow`` hangs until :attr:`release` is set
    (at most ``hang`` seconds, below the step's 30 s timeout); the rest answer."""

    def __init__(self, hang: float) -> None:
        self.hang = hang
        self.calls: list[str] = []
        self.hanging = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.calls.append(request.path)
            first = request.path == "/first/slow" and self.calls.count("/first/slow") == 1
        if first:
            self.hanging.set()
            self.release.wait(self.hang)
        return Response("ok")


def runs(redis: Redis, keys: Keys) -> dict[str, list[tuple[str, int | None]]]:
    seen: dict[str, list[tuple[str, int | None]]] = {}
    for incident in store.listing(redis, keys, limit=1000):
        entries = [(e.kind, e.details.get("step")) for e in store.timeline(redis, keys, incident.id)]
        seen.setdefault(incident.labels["instance"], []).extend(entries)
    return seen


def test_rolling_restart_of_web_and_workers_loses_no_accepted_alert(
    ha_config: Path, httpserver: HTTPServer, redis_node: Node, tmp_path: Path
) -> None:
    # The sink answers one request at a time: the hang holds the other steps too. It lasts until
    # worker A has been stopped (past its grace, so that it must hand its step back), however long
    # starting B takes on a busy machine.
    sink = SlowFirstCall(hang=25)
    httpserver.expect_request(re.compile("^/(first|second)/"), method="POST").respond_with_handler(sink)
    keys = Keys("rolling")
    url = f"redis://127.0.0.1:{redis_node.port}/0"
    env = responder_env(url, keys.prefix, ha_config, RESPONDER_SHUTDOWN_GRACE=str(GRACE))
    responder = Responder(env, tmp_path / "logs")
    ports = {"a": free_port(), "b": free_port()}
    redis = connection.connect(url)
    try:
        responder.serve("web-a", port=ports["a"], workers=2)
        responder.worker("worker-a")
        # Two replicas behind a Service, as the sender sees them: it moves to the other on a failure.
        sender = Sender([f"http://127.0.0.1:{port}" for port in ports.values()])
        assert sender.send(drill_alert("slow", httpserver.port)).delivered
        assert sink.hanging.wait(30), "the slow step never started"
        stream = sender.in_background(
            [drill_alert(str(i), httpserver.port) for i in range(ALERTS)], every=EVERY
        )

        # Roll: B comes up, A goes (its worker mid-step), A comes back, B goes.
        responder.serve("web-b", port=ports["b"])
        responder.worker("worker-b")
        responder.terminate("worker-a")  # hands the hanging step back after its grace
        sink.release.set()
        responder.terminate("web-a")  # drains what it is answering
        responder.serve("web-a2", port=ports["a"])
        responder.worker("worker-a2")
        responder.terminate("worker-b")
        responder.terminate("web-b")
        stream.join(180)

        assert not stream.is_alive()
        assert [d.instance for d in sender.deliveries if d.delivered is None] == []
        instances = ["slow", *map(str, range(ALERTS))]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            seen = runs(redis, keys)
            missing = [i for i in instances if ("playbook.completed", None) not in seen.get(i, [])]
            if not missing:
                break
            time.sleep(0.5)
        assert missing == []
        for instance in instances:
            entries = seen[instance]
            assert entries.count(("incident.opened", None)) == 1, instance
            assert entries.count(("step.ok", 0)) == 1 and entries.count(("step.ok", 1)) == 1, instance
        # The stopped worker exited cleanly and the step it was on ran again elsewhere, recorded once.
        assert responder.processes["worker-a"].returncode == 0
        assert responder.processes["web-a"].returncode == 0
        assert sink.calls.count("/first/slow") == 2
        assert "handed back" in responder.tail("worker-a")
        assert ("step.retry", 0) not in seen["slow"]  # handed back, not counted as a failed attempt
    finally:
        responder.stop()
