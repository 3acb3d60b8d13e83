"""A protocol-level fake of the Kubernetes API server: Deployments, ReplicaSets and autoscalers.

It serves, over plain HTTP on loopback, exactly what the Kubernetes actions use:

- ``GET``/``PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}`` (and ``/scale``) and
  ``GET .../replicasets?labelSelector=...`` (:mod:`tests.fakes.kube_deployments`);
- HorizontalPodAutoscalers (autoscaling/v2) and KEDA ScaledObjects (keda.sh/v1alpha1), list,
  get and patch (:mod:`tests.fakes.kube_autoscaling`);

and answers like the real API server does (:mod:`tests.fakes.kube_api`): JSON objects the
official client deserializes, ``Status`` objects for errors, the three patch types (strategic
merge, merge, JSON patch) with 415 for any other, ``dryRun=All`` computing the result without
storing it, ``resourceVersion`` preconditions answered with 409, zero-valued status fields
omitted, bearer-token auth.

It also plays the controllers, just enough: the deployment controller (new ReplicaSets and
revisions for a changed pod template; a change is rolled out after ``rollout_reads`` reads
of the Deployment, counted in reads, not seconds, so a test that polls knows what each read
sees), the HPA controller (replicas kept within the HPA's bounds) and KEDA (replicas held at
``paused-replicas``). Status is computed when read, so no thread runs behind the tests.

Every request is recorded (:class:`Request`) for assertions. Failures can be injected
(:meth:`FakeKube.fail`), and a request can be held at the door until the test lets it through
(:meth:`FakeKube.hold`): a barrier, so no test races the fake with sleeps.
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.kube_api import (
    JSON_PATCH,
    MERGE,
    STRATEGIC_MERGE,
    ApiError,
    Request,
    injected_message,
)
from tests.fakes.kube_autoscaling import (
    PAUSED_REPLICAS,
    Autoscalers,
    hpa_path,
    hpas_path,
    scaled_object_path,
    scaled_objects_path,
)
from tests.fakes.kube_deployments import Deployments, deployment_path, replicasets_path, scale_path

__all__ = [
    "JSON_PATCH",
    "MERGE",
    "PAUSED_REPLICAS",
    "STRATEGIC_MERGE",
    "ApiError",
    "FakeKube",
    "Hold",
    "Request",
    "deployment_path",
    "hpa_path",
    "hpas_path",
    "replicasets_path",
    "scale_path",
    "scaled_object_path",
    "scaled_objects_path",
]


@dataclass
class _Injection:
    method: str | None
    path: str | None
    times: int
    status: int
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or self.path == path)


class Hold:
    """A barrier for one request: the fake keeps it at the door until :meth:`release`.

    ``arrived`` is set when the request reached the fake (it is recorded in ``requests`` by
    then); once released, the fake answers it from the state at that moment.
    """

    def __init__(self, method: str | None, path: str | None) -> None:
        self.method, self.path = method, path
        self.arrived = threading.Event()
        self._released = threading.Event()

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or self.path == path)

    def release(self) -> None:
        """Let the held request through (or the next matching one straight through, if none came yet)."""
        self._released.set()

    @property
    def holding(self) -> bool:
        """A request is at the door right now, not let through yet."""
        return self.arrived.is_set() and not self._released.is_set()

    def wait(self) -> None:
        """Called by the fake: the request arrived; wait until the test releases it."""
        self.arrived.set()
        # Bounded, so a test that forgets to release cannot hang the server's threads for good.
        self._released.wait(timeout=60)


class FakeKube:
    """The fake API server. ``start()`` it, point a kubeconfig at :attr:`url`, ``stop()`` it."""

    def __init__(self, *, token: str = "fake-token", rollout_reads: int | None = 2) -> None:
        self.token = token
        self.requests: list[Request] = []
        self._version = 1000
        self.deployments = Deployments(self._next_version, rollout_reads)
        """The Deployments and ReplicaSets (add them with :meth:`add_deployment`, :meth:`add_replicaset`)."""
        self.autoscalers = Autoscalers(self._next_version, self.deployments.autoscaled)
        """The HPAs and ScaledObjects (add them with :meth:`add_hpa`, :meth:`add_scaled_object`)."""
        self._injections: list[_Injection] = []
        self._holds: list[Hold] = []
        self._issued: list[Hold] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> FakeKube:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-kube", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, and drop kept-alive connections so the client sees the server gone."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            for hold in self._issued:
                hold.release()  # a held request's thread must not outlive the server
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._connections.clear()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- state, for tests -------------------------------------------------------------

    @property
    def rollout_reads(self) -> int | None:
        """How many API reads of a Deployment (``GET deployments/NAME``) after a change still see
        its rollout in progress; the next read sees it complete. None: rollouts never complete
        (a stuck rollout)."""
        return self.deployments.rollout_reads

    @rollout_reads.setter
    def rollout_reads(self, reads: int | None) -> None:
        with self._lock:
            self.deployments.rollout_reads = reads

    def add_deployment(self, namespace: str, name: str, **kwargs: Any) -> dict[str, Any]:
        """Add a fully rolled-out Deployment (see :meth:`Deployments.add_deployment` for the options)."""
        with self._lock:
            return self.deployments.add_deployment(namespace, name, **kwargs)

    def add_replicaset(
        self,
        namespace: str,
        deployment: str,
        *,
        revision: int,
        containers: list[dict[str, Any]],
        owned: bool = True,
    ) -> dict[str, Any]:
        """Add an old ReplicaSet of ``deployment`` (scaled to 0) whose pod template runs ``containers``."""
        with self._lock:
            return self.deployments.add_replicaset(
                namespace, deployment, revision=revision, containers=containers, owned=owned
            )

    def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        """The Deployment as a GET would return it now (a read that does not move a rollout on)."""
        with self._lock:
            return self.deployments.deployment(namespace, name)

    def replicasets(self, namespace: str, deployment: str) -> list[dict[str, Any]]:
        """The ReplicaSets owned by ``deployment``, oldest revision first."""
        with self._lock:
            return self.deployments.replicasets(namespace, deployment)

    def set_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Replace a Deployment's status (and stop any rollout in progress), e.g. a stuck rollout."""
        with self._lock:
            self.deployments.set_status(namespace, name, status)

    def fail(
        self,
        status: int,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
        message: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and a Status object."""
        with self._lock:
            self._injections.append(_Injection(method, path, times, status=status, message=message))

    def hold(self, method: str | None = None, path: str | None = None) -> Hold:
        """Keep the next matching request at the door until the returned :class:`Hold` is released."""
        hold = Hold(method, path)
        with self._lock:
            self._holds.append(hold)
            self._issued.append(hold)
        return hold

    def add_hpa(self, namespace: str, name: str, *, target: str, **kwargs: Any) -> dict[str, Any]:
        """Add an autoscaling/v2 HorizontalPodAutoscaler scaling Deployment ``target``
        (see :meth:`Autoscalers.add_hpa` for the keyword arguments)."""
        with self._lock:
            return self.autoscalers.add_hpa(namespace, name, target=target, **kwargs)

    def add_scaled_object(self, namespace: str, name: str, *, target: str, **kwargs: Any) -> dict[str, Any]:
        """Install KEDA and add a ScaledObject scaling Deployment ``target``, with the HPA KEDA makes."""
        with self._lock:
            return self.autoscalers.add_scaled_object(namespace, name, target=target, **kwargs)

    def hpa(self, namespace: str, name: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.autoscalers.hpas[(namespace, name)])

    def edit_hpa(self, namespace: str, name: str, change: Callable[[dict[str, Any]], None]) -> None:
        """Change an HPA as another client would (a person, a GitOps sync): a new resourceVersion."""
        with self._lock:
            hpa = self.autoscalers.hpas[(namespace, name)]
            change(hpa)
            hpa["metadata"]["resourceVersion"] = self._next_version()

    def scaled_object(self, namespace: str, name: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.autoscalers.scaled_objects[(namespace, name)])

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- the API --------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], content_type: str | None, body: Any
    ) -> Any:
        """Answer one request: the response object, or raise :class:`ApiError`."""
        with self._lock:
            hold = next((h for h in self._holds if h.matches(method, path)), None)
            if hold is not None:
                self._holds.remove(hold)
        if hold is not None:
            hold.wait()  # outside the lock: the test changes state while this request waits
        with self._lock:
            injection = self._take_injection(method, path)
            if injection is not None:
                message = injection.message or injected_message(injection.status, method, path)
                raise ApiError(injection.status, message)
            for resources in (self.deployments, self.autoscalers):
                if resources.serves(path):
                    return resources.handle(method, path, query, content_type, body)
            raise ApiError(404, "the server could not find the requested resource")

    def _take_injection(self, method: str, path: str) -> _Injection | None:
        for injection in self._injections:
            if injection.matches(method, path):
                injection.times -= 1
                if injection.times <= 0:
                    self._injections.remove(injection)
                return injection
        return None

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeKube
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, url.path, query, content_type, body, headers)
        with self.fake._lock:
            self.fake.requests.append(request)
        try:
            if self.headers.get("Authorization") != f"Bearer {self.fake.token}":
                raise ApiError(401, "Unauthorized")
            if isinstance(body, str):
                raise ApiError(400, f"the body of the request was in an unknown format: {body[:100]}")
            code, answer = 200, self.fake.handle(self.command, url.path, query, content_type, body)
        except ApiError as exc:
            code, answer = exc.code, exc.status()
        payload = json.dumps(answer).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a timeout test); nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        pass
