"""What any Kubernetes API server does, whatever the resource: requests, errors, patches, selectors.

Shared by the fake API server (:mod:`tests.fakes.kube`) and its autoscaling resources
(:mod:`tests.fakes.kube_autoscaling`): the ``Status`` object errors answer with, the three
patch types (strategic merge, merge, JSON patch; 415 for any other), the ``dryRun`` and
``resourceVersion`` rules of a PATCH, the messages of injected failures, and label selectors.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

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
REASONS = {
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
            "reason": REASONS.get(self.code, "Unknown"),
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


_RESOURCE_PATH = re.compile(
    r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<resource>[^/]+)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?$"
)


def check_dry_run(query: dict[str, str]) -> bool:
    """Whether the request asks for a dry run; any value but ``All`` is refused, as the API server does."""
    dry_run = query.get("dryRun")
    if dry_run not in (None, "All"):
        raise ApiError(400, f'Invalid dryRun value: "{dry_run}" (supported values: "All")')
    return dry_run == "All"


def check_precondition(patched: dict[str, Any], current: dict[str, Any], what: str, name: str) -> None:
    """A patch carrying ``metadata.resourceVersion`` applies only to that version (409 otherwise)."""
    wanted = (patched.get("metadata") or {}).get("resourceVersion")
    if wanted is not None and wanted != current["metadata"]["resourceVersion"]:
        resource, _, group = what.partition(".")
        raise ApiError(
            409,
            f'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            {"name": name, "group": group, "kind": resource},
        )


def not_allowed(method: str) -> ApiError:
    return ApiError(405, f"the server does not allow this method on the requested resource ({method})")


def injected_message(status: int, method: str, path: str) -> str:
    """What the API server would say for ``status`` on this request (for :meth:`FakeKube.fail`)."""
    m = _RESOURCE_PATH.match(path)
    ns, group, resource, name = (m["ns"], m["group"], m["resource"], m["name"]) if m else ("?", "", "", "")
    what = f"{resource}.{group}"
    full = f"{resource}/{m['sub']}" if m and m["sub"] else resource
    verb = {"GET": "get" if name else "list", "PATCH": "patch"}.get(method, method.lower())
    if status == 403:
        target = f'{what} "{name}"' if name else what
        return (
            f'{target} is forbidden: User "system:serviceaccount:{ns}:alert-responder" cannot {verb} '
            f'resource "{full}" in API group "{group}" in the namespace "{ns}"'
        )
    if status == 404:
        return f'{what} "{name}" not found' if name else "the server could not find the requested resource"
    if status == 409:
        return (
            f'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again"
        )
    if status >= 500:
        return "Internal error occurred: etcdserver: request timed out"
    return REASONS.get(status, "Unknown")


# --- patches ------------------------------------------------------------------------------


def apply_patch(
    content_type: str | None, target: dict[str, Any], patch: Any, *, custom_resource: bool = False
) -> dict[str, Any]:
    """``target`` with ``patch`` applied as its Content-Type says.

    A custom resource (a CRD's object) has no strategic merge: the API server answers 415.
    """
    media_type = (content_type or "").split(";")[0].strip()
    if media_type == STRATEGIC_MERGE and not custom_resource:
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
    accepted = [JSON_PATCH, MERGE] + ([] if custom_resource else [STRATEGIC_MERGE])
    raise ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}, application/apply-patch+yaml (got {content_type!r})",
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


def parse_selector(selector: str) -> list[Any]:
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
