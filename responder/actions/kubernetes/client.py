"""Credentials, loaded once per process, and the API calls on one Deployment.

:func:`load_client` builds the process's ``ApiClient`` on first use: ``KUBECONFIG`` when it is
set (as kubectl does), else the in-cluster service account, else ``~/.kube/config``. The worker
calls it before RQ forks a job horse per job, so every horse inherits the loaded client.

:class:`Deployment` makes the calls, the way kubectl makes them, and turns failures into
ActionErrors that say what to do (409, 429, 5xx and timeouts are retried per the step's
``retries``; 404, 403, 401 and other refusals are final).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import SERVICE_TOKEN_FILENAME

from responder.actions.base import ActionContext
from responder.actions.kubernetes.params import DeploymentParams
from responder.actions.kubernetes.safety import check_target
from responder.errors import ActionError

STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
FIELD_MANAGER = "alert-responder"
"""Sent with every change (as kubectl sends kubectl-rollout, kubectl-set...), so the object's
managedFields say the responder made it."""


_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def load_client(context: str | None = None) -> Any:
    """The process's ``kubernetes.client.ApiClient``: built on first use, then reused.

    Keyed by ``KUBECONFIG`` and ``context``, so a changed kubeconfig path gets a new client.

    Raises:
        ActionError: no credentials could be loaded (not retryable).
    """
    key = (os.environ.get("KUBECONFIG", ""), context or "")
    with _clients_lock:
        if key not in _clients:
            _clients[key] = _new_client(*key)
        return _clients[key]


def reset_client() -> None:
    """Forget the loaded credentials (after a kubeconfig change, and between tests)."""
    with _clients_lock:
        for api_client in _clients.values():
            api_client.close()
        _clients.clear()


def _new_client(kubeconfig: str, context: str) -> Any:
    configuration = k8s.Configuration()
    in_cluster = os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.exists(SERVICE_TOKEN_FILENAME)
    try:
        if in_cluster and not kubeconfig:
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            k8s_config.load_kube_config(
                config_file=kubeconfig or os.path.expanduser("~/.kube/config"),
                context=context or None,
                client_configuration=configuration,
            )
    except (ConfigException, OSError) as exc:
        raise ActionError(
            f"cannot load Kubernetes credentials: {exc}; run the worker in a pod with the alert-responder "
            "service account (deploy/rbac.yaml) or set KUBECONFIG",
            retryable=False,
        ) from exc
    # urllib3 would retry a timed-out GET three more times, stretching a step past its timeout.
    # Retry only failures to connect (nothing was sent); the step's own retries handle the rest.
    configuration.retries = urllib3.util.Retry(total=2, connect=2, read=0, redirect=0, status=0, other=0)
    api_client = k8s.ApiClient(configuration)
    # The client imports each API class (and its models) on first use, which takes a second or more:
    # do it here, so the job horses the worker forks after load_client() do not each pay for it.
    k8s.AppsV1Api(api_client)
    k8s.AutoscalingV2Api(api_client)
    k8s.CustomObjectsApi(api_client)
    return api_client


class Deployment:
    """The API calls on one Deployment, with failures turned into ActionErrors that say what to do."""

    def __init__(self, params: DeploymentParams, ctx: ActionContext) -> None:
        check_target(params, ctx)
        self.namespace = params.namespace
        self.name = params.deployment
        self.ref = f"{params.namespace}/{params.deployment}"
        self.timeout = ctx.timeout if ctx.timeout > 0 else None
        self.dry = ctx.dry_run
        self.dry_run = "All" if self.dry else None
        self.api_client = load_client(ctx.config.responder.kubernetes.context)
        self.apps = k8s.AppsV1Api(self.api_client)

    def did(self, done: str, would: str) -> str:
        """What was done, or in dry run what would have been (for the Outcome's summary)."""
        return would if self.dry else done

    def get(self, timeout: float | None = None) -> dict[str, Any]:
        return self.call(
            "get",
            "deployments",
            lambda: self.apps.read_namespaced_deployment(
                self.name, self.namespace, _preload_content=False, _request_timeout=timeout or self.timeout
            ),
        )

    def patch(self, body: Any, content_type: str) -> dict[str, Any]:
        return self.call(
            "patch",
            "deployments",
            lambda: self.apps.patch_namespaced_deployment(
                self.name,
                self.namespace,
                body,
                dry_run=self.dry_run,
                field_manager=FIELD_MANAGER,
                _content_type=content_type,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
        )

    def patch_scale(self, body: dict[str, Any]) -> dict[str, Any]:
        # kubectl scale sends a merge patch; the client would default to a strategic merge.
        return self.call(
            "patch",
            "deployments/scale",
            lambda: self.apps.patch_namespaced_deployment_scale(
                self.name,
                self.namespace,
                body,
                dry_run=self.dry_run,
                field_manager=FIELD_MANAGER,
                _content_type=MERGE_PATCH,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
        )

    def list_replicasets(self, selector: str) -> list[dict[str, Any]]:
        answer = self.call(
            "list",
            "replicasets",
            lambda: self.apps.list_namespaced_replica_set(
                self.namespace, label_selector=selector, _preload_content=False, _request_timeout=self.timeout
            ),
        )
        return list(answer.get("items") or [])

    def call(
        self,
        verb: str,
        resource: str,
        request: Callable[[], Any],
        ref: str | None = None,
        *,
        if_absent: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Make one request; ``ref`` (default: this Deployment) names the object in error messages.

        ``if_absent``, when given, is the answer to a 404 (a resource that may not exist, such
        as a CRD that is not installed) instead of an error.

        Raises:
            ActionError: the API refused or did not answer; retryable as the answer warrants.
        """
        ref = ref or self.ref
        try:
            response = request()
        except ApiException as exc:
            if exc.status == 404 and if_absent is not None:
                return if_absent
            raise self._api_error(exc, verb, resource, ref) from exc
        except urllib3.exceptions.HTTPError as exc:  # connection refused, reset, timed out
            raise ActionError(
                f"could not {verb} {resource} {ref}: the Kubernetes API did not answer ({exc}); will retry"
            ) from exc
        answer: dict[str, Any] = json.loads(response.data)
        return answer

    def _api_error(self, exc: ApiException, verb: str, resource: str, ref: str) -> ActionError:
        status = exc.status or 0
        try:
            message = json.loads(exc.body or "{}").get("message") or exc.reason
        except ValueError:
            message = exc.body or exc.reason
        what = "deployment" if resource.startswith("deployments") else resource
        if status == 404:
            return ActionError(f"{what} {ref} not found", retryable=False)
        if status == 403:
            return ActionError(
                f"forbidden: the service account cannot {verb} {resource} in namespace {self.namespace}; "
                "see deploy/rbac.yaml",
                retryable=False,
            )
        if status == 401:
            return ActionError(
                f"unauthorized: the Kubernetes API rejected the responder's credentials ({message}); "
                "check the service account token or kubeconfig",
                retryable=False,
            )
        if status == 409:
            return ActionError(f"conflict: {what} {ref} changed while being updated ({message}); will retry")
        if status in (0, 429) or status >= 500:
            return ActionError(f"could not {verb} {resource} {ref}: Kubernetes API error {status}: {message}")
        return ActionError(
            f"the Kubernetes API refused to {verb} {resource} {ref} ({status}): {message}",
            retryable=False,
        )


def paused_refusal(dep: Deployment, doing: str) -> ActionError:
    return ActionError(
        f"cannot {doing} deployment {dep.ref}: it is paused, as kubectl would refuse too; resume it first "
        f"(kubectl -n {dep.namespace} rollout resume deployment/{dep.name})",
        retryable=False,
    )
