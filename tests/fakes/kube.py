"""A protocol-level fake of the Kubernetes API server: apps/v1 Deployments and ReplicaSets.

It serves, over plain HTTP on loopback, exactly what the Kubernetes actions use:

- ``GET``/``PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}``
- ``GET``/``PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale``
- ``GET /apis/apps/v1/namespaces/{ns}/replicasets?labelSelector=...``

and answers like the real API server does: JSON objects the official client deserializes,
``Status`` objects for errors, the three patch types (strategic merge, merge, JSON patch) with
415 for any other, ``dryRun=All`` computing the result without storing it, ``resourceVersion``
preconditions answered with 409, zero-valued status fields omitted, bearer-token auth.

It also plays the deployment controller, just enough for rollouts: a changed pod template
gets a ReplicaSet with the next ``deployment.kubernetes.io/revision`` (an old ReplicaSet
with the same template is reused, as on a rollback), ``metadata.generation`` counts spec
changes, and the status catches up ``rollout_delay`` seconds after a change (never, when
``rollout_delay`` is None). Status is computed when read, so no thread runs behind the tests.

Every request is recorded (:class:`Request`) for assertions, and failures can be injected
(:meth:`FakeKube.fail`, :meth:`FakeKube.delay`).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

APPS = "/apis/apps/v1"
REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"

STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

_DEPLOYMENT = re.compile(rf"^{APPS}/namespaces/(?P<ns>[^/]+)/deployments/(?P<name>[^/]+)(?P<scale>/scale)?$")
_REPLICASETS = re.compile(rf"^{APPS}/namespaces/(?P<ns>[^/]+)/replicasets$")

# Keys by which strategic merge patch merges lists of objects (from the Kubernetes API's
# patchMergeKey tags); any other list is replaced whole.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}
# Status counters are `omitempty` in the API types: a zero never appears on the wire.
_OMIT_ZERO = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas")
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


@dataclass(frozen=True)
class Request:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    body: Any
    """The JSON body, parsed; None when there was none."""
    headers: dict[str, str] = field(repr=False)
    """Header names in lowercase."""


class ApiError(Exception):
    """Raised inside the fake to answer with a ``Status`` object."""

    def __init__(self, code: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": _REASONS.get(self.code, "Unknown"),
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


@dataclass
class _Injection:
    method: str | None
    path: str | None
    times: int
    status: int | None = None
    message: str | None = None
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or self.path == path)


@dataclass
class _Rollout:
    """A change the fake controller has not finished rolling out yet."""

    done_at: float | None
    before: dict[str, Any]
    template_changed: bool


def deployment_path(namespace: str, name: str) -> str:
    return f"{APPS}/namespaces/{namespace}/deployments/{name}"


def scale_path(namespace: str, name: str) -> str:
    return f"{deployment_path(namespace, name)}/scale"


def replicasets_path(namespace: str) -> str:
    return f"{APPS}/namespaces/{namespace}/replicasets"


class FakeKube:
    """The fake API server. ``start()`` it, point a kubeconfig at :attr:`url`, ``stop()`` it."""

    def __init__(self, *, token: str = "fake-token", rollout_delay: float | None = 0.3) -> None:
        self.token = token
        self.rollout_delay = rollout_delay
        """Seconds until a change is rolled out; None: rollouts never complete (a stuck rollout)."""
        self.requests: list[Request] = []
        self._deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self._replicasets: dict[tuple[str, str], dict[str, Any]] = {}
        self._rollouts: dict[tuple[str, str], _Rollout] = {}
        self._injections: list[_Injection] = []
        self._version = 1000
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

    def add_deployment(
        self,
        namespace: str,
        name: str,
        *,
        containers: list[dict[str, Any]] | None = None,
        init_containers: list[dict[str, Any]] | None = None,
        replicas: int = 3,
        labels: dict[str, str] | None = None,
        paused: bool = False,
        revision: int = 1,
    ) -> dict[str, Any]:
        """Add a Deployment that is fully rolled out, with its current ReplicaSet at ``revision``."""
        labels = labels or {"app": name}
        pod_spec: dict[str, Any] = {
            "containers": containers or [{"name": "app", "image": f"{name}:1.0.0"}],
            "restartPolicy": "Always",
        }
        if init_containers:
            pod_spec["initContainers"] = init_containers
        spec: dict[str, Any] = {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        }
        if paused:
            spec["paused"] = True
        with self._lock:
            deployment = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "uid": str(uuid.uuid4()),
                    "resourceVersion": self._next_version(),
                    "generation": 1,
                    "creationTimestamp": "2025-07-17T09:00:00Z",
                    "labels": dict(labels),
                    "annotations": {REVISION: str(revision)},
                },
                "spec": spec,
                "status": _complete_status(replicas, 1),
            }
            self._deployments[(namespace, name)] = deployment
            self._new_replicaset(deployment, revision, replicas)
            return copy.deepcopy(deployment)

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
            dep = self._deployments[(namespace, deployment)]
            template = copy.deepcopy(dep["spec"]["template"])
            template["spec"]["containers"] = copy.deepcopy(containers)
            rs = self._new_replicaset(dep, revision, 0, template=template)
            if not owned:
                del rs["metadata"]["ownerReferences"]
            return copy.deepcopy(rs)

    def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        """The Deployment as a GET would return it now."""
        with self._lock:
            return copy.deepcopy(self._read_deployment(namespace, name))

    def replicasets(self, namespace: str, deployment: str) -> list[dict[str, Any]]:
        """The ReplicaSets owned by ``deployment``, oldest revision first."""
        with self._lock:
            dep = self._deployments[(namespace, deployment)]
            return copy.deepcopy(self._owned(dep))

    def set_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Replace a Deployment's status (and stop any rollout in progress), e.g. a stuck rollout."""
        with self._lock:
            self._rollouts.pop((namespace, name), None)
            self._deployments[(namespace, name)]["status"] = copy.deepcopy(status)

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

    def delay(
        self, seconds: float, *, method: str | None = None, path: str | None = None, times: int = 1
    ) -> None:
        """Hold the next ``times`` matching requests for ``seconds`` before answering them."""
        with self._lock:
            self._injections.append(_Injection(method, path, times, delay=seconds))

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- the API --------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], content_type: str | None, body: Any
    ) -> Any:
        """Answer one request: the response object, or raise :class:`ApiError`."""
        with self._lock:
            injection = self._take_injection(method, path)
        if injection is not None and injection.delay:
            time.sleep(injection.delay)
        if injection is not None and injection.status is not None:
            raise ApiError(
                injection.status, injection.message or _injected_message(injection.status, method, path)
            )
        with self._lock:
            if m := _DEPLOYMENT.match(path):
                ns, name, scale = m["ns"], m["name"], bool(m["scale"])
                if method == "GET":
                    dep = self._read_deployment(ns, name)
                    return _scale_of(dep) if scale else dep
                if method == "PATCH":
                    return self._patch(ns, name, scale, content_type, body, query)
                raise ApiError(
                    405, f"the server does not allow this method on the requested resource ({method})"
                )
            if m := _REPLICASETS.match(path):
                if method != "GET":
                    raise ApiError(
                        405, f"the server does not allow this method on the requested resource ({method})"
                    )
                return self._list_replicasets(m["ns"], query.get("labelSelector", ""))
            raise ApiError(404, "the server could not find the requested resource")

    def _take_injection(self, method: str, path: str) -> _Injection | None:
        for injection in self._injections:
            if injection.matches(method, path):
                injection.times -= 1
                if injection.times <= 0:
                    self._injections.remove(injection)
                return injection
        return None

    def _read_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        key = (namespace, name)
        dep = self._deployments.get(key)
        if dep is None:
            raise ApiError(
                404,
                f'deployments.apps "{name}" not found',
                {"name": name, "group": "apps", "kind": "deployments"},
            )
        rollout = self._rollouts.get(key)
        if rollout is not None:
            if rollout.done_at is not None and time.monotonic() >= rollout.done_at:
                dep["status"] = _complete_status(dep["spec"]["replicas"], dep["metadata"]["generation"])
                del self._rollouts[key]
            else:
                dep["status"] = _progress_status(dep, rollout)
        return _omit_zero(dep)

    def _patch(
        self,
        namespace: str,
        name: str,
        scale: bool,
        content_type: str | None,
        patch: Any,
        query: dict[str, str],
    ) -> dict[str, Any]:
        dry_run = query.get("dryRun")
        if dry_run not in (None, "All"):
            raise ApiError(400, f'Invalid dryRun value: "{dry_run}" (supported values: "All")')
        current = self._read_deployment(namespace, name)
        target = _scale_of(current) if scale else copy.deepcopy(current)
        patched = _apply_patch(content_type, target, patch)
        wanted_version = patched.get("metadata", {}).get("resourceVersion")
        if wanted_version is not None and wanted_version != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                f'Operation cannot be fulfilled on deployments.apps "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                {"name": name, "group": "apps", "kind": "deployments"},
            )
        updated = copy.deepcopy(current)
        if scale:
            updated["spec"]["replicas"] = patched.get("spec", {}).get("replicas")
        else:
            updated["spec"] = patched.get("spec")
            updated["metadata"]["labels"] = patched.get("metadata", {}).get("labels", {})
            updated["metadata"]["annotations"] = patched.get("metadata", {}).get("annotations", {})
        _validate(updated)
        spec_changed = updated["spec"] != current["spec"]
        template_changed = _template_key(updated["spec"]["template"]) != _template_key(
            current["spec"]["template"]
        )
        if spec_changed:
            updated["metadata"]["generation"] += 1
        if dry_run == "All":
            return _scale_of(updated) if scale else _omit_zero(updated)
        if updated != current:
            updated["metadata"]["resourceVersion"] = self._next_version()
        self._deployments[(namespace, name)] = updated
        if spec_changed:
            self._start_rollout(updated, current, template_changed)
        result = self._read_deployment(namespace, name)
        return _scale_of(result) if scale else result

    def _start_rollout(self, dep: dict[str, Any], before: dict[str, Any], template_changed: bool) -> None:
        key = (dep["metadata"]["namespace"], dep["metadata"]["name"])
        previous = self._rollouts.get(key)
        before_status = previous.before if previous else before["status"]
        done_at = None if self.rollout_delay is None else time.monotonic() + self.rollout_delay
        if dep["spec"].get("paused"):
            done_at = None  # the controller does not roll out a paused Deployment
        elif template_changed:
            self._roll_replicasets(dep)
        self._rollouts[key] = _Rollout(
            done_at, before_status, template_changed or bool(previous and previous.template_changed)
        )

    def _roll_replicasets(self, dep: dict[str, Any]) -> None:
        """What the deployment controller does for a new pod template: reuse or create a ReplicaSet."""
        owned = self._owned(dep)
        newest = max((_revision(rs) for rs in owned), default=0)
        key = _template_key(dep["spec"]["template"])
        match = next((rs for rs in owned if _template_key(rs["spec"]["template"]) == key), None)
        if match is None:
            match = self._new_replicaset(dep, newest + 1, dep["spec"]["replicas"])
        elif _revision(match) != newest:
            match["metadata"]["annotations"][REVISION] = str(newest + 1)
            match["metadata"]["resourceVersion"] = self._next_version()
        dep["metadata"]["annotations"][REVISION] = match["metadata"]["annotations"][REVISION]
        for rs in owned:
            rs["spec"]["replicas"] = dep["spec"]["replicas"] if rs is match else 0

    def _new_replicaset(
        self,
        dep: dict[str, Any],
        revision: int,
        replicas: int,
        template: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        template = copy.deepcopy(template or dep["spec"]["template"])
        pod_hash = hashlib.sha256(_template_key(template).encode()).hexdigest()[:10]
        template["metadata"].setdefault("labels", {})[POD_TEMPLATE_HASH] = pod_hash
        namespace, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        rs = {
            "metadata": {
                "name": f"{name}-{pod_hash}",
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "resourceVersion": self._next_version(),
                "generation": 1,
                "creationTimestamp": "2025-07-17T09:00:00Z",
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"]),
                    "deployment.kubernetes.io/max-replicas": str(dep["spec"]["replicas"] + 1),
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": name,
                        "uid": dep["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": replicas,
                "selector": {
                    "matchLabels": {**dep["spec"]["selector"]["matchLabels"], POD_TEMPLATE_HASH: pod_hash}
                },
                "template": template,
            },
            "status": {"replicas": replicas, "observedGeneration": 1},
        }
        self._replicasets[(namespace, rs["metadata"]["name"])] = rs
        return rs

    def _owned(self, dep: dict[str, Any]) -> list[dict[str, Any]]:
        uid = dep["metadata"]["uid"]
        owned = [
            rs
            for rs in self._replicasets.values()
            if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences", []))
        ]
        return sorted(owned, key=_revision)

    def _list_replicasets(self, namespace: str, selector: str) -> dict[str, Any]:
        requirements = _parse_selector(selector)
        items = [
            _omit_zero(rs)
            for (ns, _), rs in sorted(self._replicasets.items())
            if ns == namespace and all(req(rs["metadata"].get("labels", {})) for req in requirements)
        ]
        return {
            "kind": "ReplicaSetList",
            "apiVersion": "apps/v1",
            "metadata": {"resourceVersion": str(self._version)},
            "items": items,
        }

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


# --- what the API server and controller compute -----------------------------------------


def _complete_status(replicas: int, generation: int) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        ],
    }


def _progress_status(dep: dict[str, Any], rollout: _Rollout) -> dict[str, Any]:
    """A rollout half way: the new pod template observed, one new pod surged, old pods still serving."""
    desired = dep["spec"]["replicas"]
    old = rollout.before
    if dep["spec"].get("paused"):
        return {**old, "observedGeneration": dep["metadata"]["generation"]}
    progressing = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}
    if rollout.template_changed:
        return {
            "observedGeneration": dep["metadata"]["generation"],
            "replicas": old.get("replicas", 0) + (1 if desired else 0),
            "updatedReplicas": min(1, desired),
            "readyReplicas": old.get("readyReplicas", 0),
            "availableReplicas": old.get("availableReplicas", 0),
            "unavailableReplicas": 1 if desired else 0,
            "conditions": [progressing],
        }
    return {
        "observedGeneration": dep["metadata"]["generation"],
        "replicas": max(desired, old.get("replicas", 0)),
        "updatedReplicas": desired,
        "readyReplicas": min(desired, old.get("readyReplicas", 0)),
        "availableReplicas": min(desired, old.get("availableReplicas", 0)),
        "conditions": [progressing],
    }


def _scale_of(dep: dict[str, Any]) -> dict[str, Any]:
    meta = dep["metadata"]
    selector = ",".join(f"{k}={v}" for k, v in sorted(dep["spec"]["selector"]["matchLabels"].items()))
    return _omit_zero(
        {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            },
            "spec": {"replicas": dep["spec"]["replicas"]},
            "status": {"replicas": dep["status"].get("replicas", 0), "selector": selector},
        }
    )


def _omit_zero(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    status = obj.get("status") or {}
    for key in _OMIT_ZERO:
        if status.get(key) == 0:
            del status[key]
    if obj.get("spec", {}).get("replicas") == 0 and obj.get("kind") == "Scale":
        del obj["spec"]["replicas"]  # Scale's spec.replicas is omitempty too
    return obj


def _revision(rs: dict[str, Any]) -> int:
    return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))


def _template_key(template: dict[str, Any]) -> str:
    """The pod template, as the controller compares it: without the pod-template-hash label."""
    template = copy.deepcopy(template)
    template.get("metadata", {}).get("labels", {}).pop(POD_TEMPLATE_HASH, None)
    return json.dumps(template, sort_keys=True)


def _validate(dep: dict[str, Any]) -> None:
    name = dep["metadata"]["name"]
    problems = []
    replicas = dep["spec"].get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        problems.append(
            f"spec.replicas: Invalid value: {json.dumps(replicas)}: must be greater than or equal to 0"
        )
    for kind in ("containers", "initContainers"):
        for i, container in enumerate(dep["spec"]["template"]["spec"].get(kind, [])):
            if not container.get("image"):
                problems.append(f"spec.template.spec.{kind}[{i}].image: Required value")
    if problems:
        raise ApiError(422, f'Deployment.apps "{name}" is invalid: ' + ", ".join(problems))


def _injected_message(status: int, method: str, path: str) -> str:
    m = _DEPLOYMENT.match(path)
    ns = m["ns"] if m else (_REPLICASETS.match(path) or {"ns": "?"})["ns"]  # type: ignore[index]
    name = m["name"] if m else ""
    resource = "deployments/scale" if m and m["scale"] else "deployments" if m else "replicasets"
    verb = {"GET": "get" if m else "list", "PATCH": "patch"}.get(method, method.lower())
    if status == 403:
        what = f'deployments.apps "{name}"' if m else "replicasets.apps"
        return (
            f'{what} is forbidden: User "system:serviceaccount:{ns}:alert-responder" cannot {verb} resource '
            f'"{resource}" in API group "apps" in the namespace "{ns}"'
        )
    if status == 404:
        return f'deployments.apps "{name}" not found'
    if status == 409:
        return (
            f'Operation cannot be fulfilled on deployments.apps "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again"
        )
    if status >= 500:
        return "Internal error occurred: etcdserver: request timed out"
    return _REASONS.get(status, "Unknown")


# --- patches ------------------------------------------------------------------------------


def _apply_patch(content_type: str | None, target: dict[str, Any], patch: Any) -> dict[str, Any]:
    media_type = (content_type or "").split(";")[0].strip()
    if media_type == STRATEGIC_MERGE:
        if not isinstance(patch, dict):
            raise ApiError(400, "strategic merge patch must be a JSON object")
        return _strategic_merge(copy.deepcopy(target), patch)
    if media_type == MERGE:
        if not isinstance(patch, dict):
            raise ApiError(400, "merge patch must be a JSON object")
        result = _merge(target, patch)
        assert isinstance(result, dict)
        return result
    if media_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise ApiError(400, "json patch must be a JSON array of operations")
        return _json_patch(copy.deepcopy(target), patch)
    raise ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{JSON_PATCH}, {MERGE}, {STRATEGIC_MERGE}, application/apply-patch+yaml (got {content_type!r})",
    )


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _strategic_merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # directives such as $setElementOrder/containers only order lists
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _strategic_merge(target[key], value)
        elif isinstance(value, list) and key in _MERGE_KEYS and isinstance(target.get(key), list):
            merge_key = _MERGE_KEYS[key]
            merged = target[key]
            for item in value:
                existing = next((x for x in merged if x.get(merge_key) == item.get(merge_key)), None)
                if existing is None:
                    merged.append(copy.deepcopy(item))
                else:
                    _strategic_merge(existing, item)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _json_patch(target: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """RFC 6902 JSON patch: add, remove, replace, test."""
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, f"invalid json patch operation: {json.dumps(op)}")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        if not parts:
            raise ApiError(422, "json patch on the whole document is not supported")
        parent: Any = target
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.get(part)
            if parent is None:
                raise ApiError(
                    422, f"jsonpatch {op['op']} operation does not apply: doc is missing path: {op['path']}"
                )
        last = parts[-1]
        exists = last in parent if isinstance(parent, dict) else last.isdigit() and int(last) < len(parent)
        if op["op"] == "add":
            if isinstance(parent, list):
                parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(op["value"]))
            else:
                parent[last] = copy.deepcopy(op["value"])
        elif op["op"] in ("replace", "remove", "test"):
            if not exists:
                raise ApiError(
                    422, f"jsonpatch {op['op']} operation does not apply: doc is missing key: {op['path']}"
                )
            index: Any = int(last) if isinstance(parent, list) else last
            if op["op"] == "replace":
                parent[index] = copy.deepcopy(op["value"])
            elif op["op"] == "remove":
                del parent[index]
            elif parent[index] != op["value"]:
                raise ApiError(422, f"testing value {op['path']} failed")
        else:
            raise ApiError(400, f"unsupported json patch operation {op['op']!r}")
    return target


# --- label selectors ------------------------------------------------------------------------

_SET_TERM = re.compile(r"^(?P<key>[^\s!=()]+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$")
_EQ_TERM = re.compile(r"^(?P<key>[^\s!=()]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)$")
_EXISTS_TERM = re.compile(r"^(?P<neg>!)?\s*(?P<key>[^\s!=(),]+)$")


def _split_terms(selector: str) -> Iterator[str]:
    depth, start = 0, 0
    for i, ch in enumerate(selector):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            yield selector[start:i].strip()
            start = i + 1
    if selector[start:].strip():
        yield selector[start:].strip()


def _parse_selector(selector: str) -> list[Any]:
    """A label selector (equality- and set-based) as a list of predicates over labels."""
    requirements = []
    for term in _split_terms(selector):
        if m := _SET_TERM.match(term):
            values = {v.strip() for v in m["values"].split(",") if v.strip()}
            key, negate = m["key"], m["op"] == "notin"
            requirements.append(lambda labels, k=key, vs=values, n=negate: (labels.get(k) in vs) != n)
        elif m := _EQ_TERM.match(term):
            key, value, negate = m["key"], m["value"], m["op"] == "!="
            requirements.append(lambda labels, k=key, v=value, n=negate: (labels.get(k) == v) != n)
        elif m := _EXISTS_TERM.match(term):
            key, negate = m["key"], bool(m["neg"])
            requirements.append(lambda labels, k=key, n=negate: (k in labels) != n)
        else:
            raise ApiError(400, f"unable to parse requirement: {term!r}")
    return requirements
