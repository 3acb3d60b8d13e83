"""A worker whose Redis goes away mid-job survives, and the job is neither lost nor counted as failed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer
from redis import Redis
from werkzeug import Request, Response

from responder.runtime import Runtime
from responder.store.keys import Keys
from responder.webhook.app import create_app
from tests.helpers import alert, body, incidents_of, timeline_of
from tests.redis_servers import Node


class KillsRedisOnce:
    """The sink of step 1: on its first call it SIGKILLs Redis (starting it again on its append-only
    file ``down`` seconds later) and answers 200, so the step's own writes find Redis gone."""

    def __init__(self, node: Node, down: float) -> None:
        self.node, self.down = node, down
        self.calls: list[str] = []
        self.restarted = threading.Event()

    def __call__(self, request: Request) -> Response:
        self.calls.append(request.path)
        if request.path.startswith("/first/") and len(self.calls) == 1:
            self.node.kill()
            threading.Timer(self.down, self._restart).start()
        return Response("ok")

    def _restart(self) -> None:
        self.node.start()
        self.restarted.set()


def test_worker_survives_redis_dying_mid_step_and_hands_the_step_back(
    node_runtime: Runtime,
    redis_node: Node,
    httpserver: HTTPServer,
    responder_worker: Callable[[Redis, Keys], Any],
) -> None:
    sink = KillsRedisOnce(redis_node, down=1.5)
    httpserver.expect_request("/first/a", method="POST").respond_with_handler(sink)
    httpserver.expect_request("/second/a", method="POST").respond_with_handler(sink)
    client = create_app(node_runtime).test_client()
    sent = client.post(
        "/webhook/alertmanager", data=body(alert("HADrill", instance="a", port=str(httpserver.port)))
    )
    assert sent.status_code == 200

    started = time.monotonic()
    worked = responder_worker(node_runtime.redis, node_runtime.keys).work(burst=True, with_scheduler=False)

    assert worked  # the loop ended because the queue was empty, not on an error
    # It really waited out the outage (start() may still be returning when the worker already reconnects).
    assert sink.restarted.wait(10) and time.monotonic() - started >= 1.5
    [incident] = incidents_of(node_runtime)
    kinds = [(e["kind"], e.get("details", {}).get("step")) for e in timeline_of(node_runtime, incident["id"])]
    # Step 1 ran again once Redis was back (its action twice: it had happened, its record had not),
    # and is recorded once; the outage was not a failed attempt of the step.
    assert sink.calls == ["/first/a", "/first/a", "/second/a"]
    assert kinds.count(("step.ok", 0)) == 1 and kinds.count(("step.ok", 1)) == 1
    assert ("playbook.completed", None) in kinds
    assert not any(kind in ("step.retry", "step.failed") for kind, _ in kinds)
