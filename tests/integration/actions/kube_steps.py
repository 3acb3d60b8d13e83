"""Running kubernetes.* actions as the playbook runner does, and reading what the fake received.

Shared by the Kubernetes action tests (plain helpers, no fixtures).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis import Redis

from responder.actions import kubernetes
from responder.actions.base import ActionContext, Outcome
from responder.config.loader import LoadedConfig
from responder.config.models import KubernetesSettings, ResponderConfig
from responder.store.keys import Keys
from responder.store.records import Alert, Incident, IncidentStatus
from tests.fakes.kube import FakeKube, deployment_path, hpas_path, scaled_objects_path

NS = "embedding"
WORKERS = "embedding-queue-workers"
APP = "paperless-maverick"
REVISION = "deployment.kubernetes.io/revision"
PLAYBOOKS = Path(__file__).parents[3] / "playbooks"
ACTIONS = {action.name: action for action in kubernetes.ACTIONS}


def make_ctx(
    *,
    dry_run: bool = False,
    timeout: float = 10.0,
    allowed: tuple[str, ...] = (NS,),
    context: str | None = None,
) -> ActionContext:
    responder = ResponderConfig(
        kubernetes=KubernetesSettings(allowed_namespaces=list(allowed), context=context),
    )
    return ActionContext(
        redis=Redis.from_url("redis://127.0.0.1:6379/0"),
        keys=Keys(prefix=f"test-k8s-{uuid.uuid4().hex[:10]}"),
        config=LoadedConfig(directory=Path("."), responder=responder, rules=[], playbooks={}),
        incident=INCIDENT,
        alert=Alert.from_webhook({"labels": {"alertname": "WorkerDown"}, "fingerprint": "fp1"}),
        people=NobodyToTell(),
        dry_run=dry_run,
        timeout=timeout,
    )


class NobodyToTell:
    """Kubernetes actions never page; a test fails loudly if one tries."""

    def note(self, text: str, channels: Sequence[str] | None) -> list[dict[str, Any]]:
        raise AssertionError(f"a kubernetes action tried to notify: {text}")


INCIDENT = Incident(
    id="0123456789ab",
    key="queue_worker_failure:0",
    rule="queue_worker_failure",
    severity="critical",
    status=IncidentStatus.TRIGGERED,
    title="WorkerDown",
    summary="workers down",
    labels={"alertname": "WorkerDown"},
    annotations={},
    group={},
    created_at=0.0,
    updated_at=0.0,
)


def run(action: str, ctx: ActionContext | None = None, **params: Any) -> Outcome:
    """Run an action as the playbook runner does: validate the rendered params, then call it."""
    chosen = ACTIONS[action]
    return chosen.run(chosen.params.model_validate(params), ctx or make_ctx())


def sent(fake: FakeKube) -> list[tuple[str, str, dict[str, str], str | None, Any]]:
    return [(r.method, r.path, r.query, r.content_type, r.body) for r in fake.requests]


MANAGED = {"fieldManager": "alert-responder"}
GET_DEPLOYMENT = ("GET", deployment_path(NS, WORKERS), {}, None, None)
# Before scaling: the Deployment, then its autoscalers (KEDA is not installed: 404, no ScaledObjects).
LOOKUP = [
    GET_DEPLOYMENT,
    ("GET", hpas_path(NS), {}, None, None),
    ("GET", scaled_objects_path(NS), {}, None, None),
]
