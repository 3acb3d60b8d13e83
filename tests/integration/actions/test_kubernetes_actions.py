"""The kubernetes.* actions, through the official client, against a protocol-level fake API server.

Every test asserts the exact requests the fake received (method, path, query, Content-Type,
body), which are the requests a real API server would receive.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from responder.actions import kubernetes
from responder.config.models import Playbook
from responder.errors import ActionError, ActionRefused
from tests.fakes.kube import (
    JSON_PATCH,
    MERGE,
    STRATEGIC_MERGE,
    FakeKube,
    deployment_path,
    replicasets_path,
    scale_path,
)
from tests.fakes.kubeconfig import FAKE_CONTEXT, UNREACHABLE_CONTEXT, write_kubeconfig
from tests.integration.actions.kube_steps import (
    ACTIONS,
    APP,
    GET_DEPLOYMENT,
    LOOKUP,
    MANAGED,
    NS,
    PLAYBOOKS,
    REVISION,
    WORKERS,
    make_ctx,
    run,
    sent,
)

pytestmark = pytest.mark.usefixtures("kubeconfig")


def two_containers() -> list[dict[str, Any]]:
    return [{"name": "app", "image": f"{APP}:3.0.0"}, {"name": "log-shipper", "image": "fluent-bit:3.0"}]


def app_with_history(fake: FakeKube) -> None:
    """paperless-maverick at revision 3 (image 3.0.0), with revisions 1 and 2 behind it."""
    fake.add_deployment(NS, APP, containers=two_containers(), revision=3)
    for revision in (1, 2):
        fake.add_replicaset(
            NS,
            APP,
            revision=revision,
            containers=[{"name": "app", "image": f"{APP}:{revision}.0.0"}, two_containers()[1]],
        )


# --- rollout_restart --------------------------------------------------------------------------


def test_rollout_restart_sets_restarted_at_annotation_by_strategic_merge(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS)
    before = datetime.now(UTC).replace(microsecond=0)

    outcome = run("kubernetes.rollout_restart", namespace=NS, deployment=WORKERS)

    stamp = fake_kube.requests[1].body["spec"]["template"]["metadata"]["annotations"][kubernetes.RESTARTED_AT]
    assert before <= datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) <= datetime.now(UTC)
    assert sent(fake_kube) == [
        GET_DEPLOYMENT,
        (
            "PATCH",
            deployment_path(NS, WORKERS),
            MANAGED,
            STRATEGIC_MERGE,
            {
                "spec": {
                    "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}
                }
            },
        ),
    ]
    assert outcome.summary == f"restarted deployment {NS}/{WORKERS} (3 replicas, rolling)"
    # The (fake) controller rolled out a new ReplicaSet: the pods really are being replaced.
    assert fake_kube.deployment(NS, WORKERS)["metadata"]["annotations"][REVISION] == "2"


def test_rollout_restart_refuses_a_paused_deployment(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS, paused=True)

    with pytest.raises(ActionError) as err:
        run("kubernetes.rollout_restart", namespace=NS, deployment=WORKERS)

    assert str(err.value) == (
        f"cannot restart deployment {NS}/{WORKERS}: it is paused, as kubectl would refuse too; "
        f"resume it first (kubectl -n {NS} rollout resume deployment/{WORKERS})"
    )
    assert not err.value.retryable
    assert sent(fake_kube) == [GET_DEPLOYMENT]


# --- scale ------------------------------------------------------------------------------------


def test_scale_to_absolute_replicas_merge_patches_the_scale_subresource(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS, replicas=3)

    outcome = run("kubernetes.scale", namespace=NS, deployment=WORKERS, replicas=0)

    # kubectl scale sends a merge patch; the client's default would be a strategic merge patch.
    assert sent(fake_kube) == [
        *LOOKUP,
        ("PATCH", scale_path(NS, WORKERS), MANAGED, MERGE, {"spec": {"replicas": 0}}),
    ]
    assert outcome.summary == f"scaled deployment {NS}/{WORKERS} from 3 to 0 replicas"
    assert outcome.details == {"namespace": NS, "deployment": WORKERS, "from": 3, "to": 0, "dry_run": False}
    assert fake_kube.deployment(NS, WORKERS)["spec"]["replicas"] == 0


def test_scale_by_adds_to_current_replicas_guarded_by_resource_version(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS, replicas=3)
    version = fake_kube.deployment(NS, WORKERS)["metadata"]["resourceVersion"]

    outcome = run("kubernetes.scale", namespace=NS, deployment=WORKERS, by=2, min=2, max=10)

    assert sent(fake_kube) == [
        *LOOKUP,
        (
            "PATCH",
            scale_path(NS, WORKERS),
            MANAGED,
            MERGE,
            {"metadata": {"resourceVersion": version}, "spec": {"replicas": 5}},
        ),
    ]
    assert outcome.summary == f"scaled deployment {NS}/{WORKERS} from 3 to 5 replicas"
    assert fake_kube.deployment(NS, WORKERS)["spec"]["replicas"] == 5


def test_scale_by_is_clamped_to_max(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS, replicas=9)

    outcome = run("kubernetes.scale", namespace=NS, deployment=WORKERS, by=2, max=10)

    assert fake_kube.requests[-1].body["spec"] == {"replicas": 10}
    assert (
        outcome.summary
        == f"scaled deployment {NS}/{WORKERS} from 9 to 10 replicas (by +2 would be 11; max is 10)"
    )


def test_scale_by_negative_is_clamped_to_min(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS, replicas=3)

    outcome = run("kubernetes.scale", namespace=NS, deployment=WORKERS, by=-5, min=1)

    assert fake_kube.requests[-1].body["spec"] == {"replicas": 1}
    assert (
        outcome.summary
        == f"scaled deployment {NS}/{WORKERS} from 3 to 1 replicas (by -5 would be -2; min is 1)"
    )


def test_scale_already_at_max_sends_no_patch(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS, replicas=10)

    outcome = run("kubernetes.scale", namespace=NS, deployment=WORKERS, by=2, max=10)

    assert sent(fake_kube) == LOOKUP
    assert outcome.summary == (
        f"left deployment {NS}/{WORKERS} at 10 replicas (by +2 would be 12; max is 10): nothing to scale"
    )


def test_scale_up_from_zero_reads_omitted_replicas_as_zero(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS, replicas=0)

    outcome = run("kubernetes.scale", namespace=NS, deployment=WORKERS, by=2)

    assert outcome.summary == f"scaled deployment {NS}/{WORKERS} from 0 to 2 replicas"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "give exactly one of `replicas` or `by`"),
        ({"replicas": 1, "by": 1}, "give exactly one of `replicas` or `by`"),
        ({"by": 1, "min": 5, "max": 2}, "`min` (5) is greater than `max` (2)"),
    ],
)
def test_scale_params_need_exactly_one_of_replicas_or_by(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        kubernetes.ScaleParams.model_validate({"namespace": NS, "deployment": WORKERS, **params})


# --- set_image --------------------------------------------------------------------------------


def test_set_image_strategic_merges_only_the_named_container(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, APP, containers=two_containers())

    outcome = run(
        "kubernetes.set_image", namespace=NS, deployment=APP, container="app", image=f"{APP}:previous-stable"
    )

    assert sent(fake_kube) == [
        ("GET", deployment_path(NS, APP), {}, None, None),
        (
            "PATCH",
            deployment_path(NS, APP),
            MANAGED,
            STRATEGIC_MERGE,
            {
                "spec": {
                    "template": {"spec": {"containers": [{"name": "app", "image": f"{APP}:previous-stable"}]}}
                }
            },
        ),
    ]
    assert outcome.summary == (
        f"set image of container app in deployment {NS}/{APP} to {APP}:previous-stable (was {APP}:3.0.0)"
    )
    containers = fake_kube.deployment(NS, APP)["spec"]["template"]["spec"]["containers"]
    assert containers == [
        {"name": "app", "image": f"{APP}:previous-stable"},
        {"name": "log-shipper", "image": "fluent-bit:3.0"},
    ]


def test_set_image_of_an_init_container_patches_init_containers(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, APP, init_containers=[{"name": "migrate", "image": f"{APP}-migrate:3.0.0"}])

    run(
        "kubernetes.set_image",
        namespace=NS,
        deployment=APP,
        container="migrate",
        image=f"{APP}-migrate:2.9.0",
    )

    assert fake_kube.requests[-1].body == {
        "spec": {
            "template": {"spec": {"initContainers": [{"name": "migrate", "image": f"{APP}-migrate:2.9.0"}]}}
        }
    }


def test_set_image_of_an_unknown_container_lists_the_containers(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(
        NS, APP, containers=two_containers(), init_containers=[{"name": "migrate", "image": "m:1"}]
    )

    with pytest.raises(ActionError) as err:
        run(
            "kubernetes.set_image",
            namespace=NS,
            deployment=APP,
            container="web",
            image=f"{APP}:previous-stable",
        )

    assert str(err.value) == (
        f'deployment {NS}/{APP} has no container "web"; its containers are: app, log-shipper '
        "(init containers: migrate)"
    )
    assert not err.value.retryable
    assert sent(fake_kube) == [("GET", deployment_path(NS, APP), {}, None, None)]


def test_set_image_refuses_an_injected_image_and_sends_nothing(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, APP)

    with pytest.raises(ActionRefused) as err:
        run("kubernetes.set_image", namespace=NS, deployment=APP, container="app", image="app:1; rm -rf /")

    assert str(err.value) == (
        'refused: parameter `image` is "app:1; rm -rf /", not a valid image reference '
        "(like registry.example.com/team/app:1.2.3); nothing was sent"
    )
    assert fake_kube.requests == []


# --- rollback ---------------------------------------------------------------------------------


def test_rollback_json_patches_the_previous_revisions_template(fake_kube: FakeKube) -> None:
    app_with_history(fake_kube)
    # Same labels, not owned by the Deployment: kubectl ignores it, and so must we.
    fake_kube.add_replicaset(
        NS, APP, revision=7, containers=[{"name": "app", "image": "stranger:1"}], owned=False
    )
    previous = next(
        rs for rs in fake_kube.replicasets(NS, APP) if rs["metadata"]["annotations"][REVISION] == "2"
    )
    template = previous["spec"]["template"]
    del template["metadata"]["labels"]["pod-template-hash"]

    outcome = run("kubernetes.rollback", namespace=NS, deployment=APP)

    assert sent(fake_kube) == [
        ("GET", deployment_path(NS, APP), {}, None, None),
        ("GET", replicasets_path(NS), {"labelSelector": f"app={APP}"}, None, None),
        (
            "PATCH",
            deployment_path(NS, APP),
            MANAGED,
            JSON_PATCH,
            [
                {"op": "replace", "path": "/spec/template", "value": template},
                {"op": "replace", "path": "/metadata/annotations", "value": {REVISION: "3"}},
            ],
        ),
    ]
    assert outcome.summary == (
        f"rolled back deployment {NS}/{APP} from revision 3 to revision 2 "
        f"(app {APP}:3.0.0 → {APP}:2.0.0, log-shipper fluent-bit:3.0 → fluent-bit:3.0)"
    )
    # As after kubectl rollout undo: revision 2's ReplicaSet is reused and becomes revision 4.
    after = fake_kube.deployment(NS, APP)
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == f"{APP}:2.0.0"
    assert after["metadata"]["annotations"][REVISION] == "4"


def test_rollback_to_revision_picks_that_revision(fake_kube: FakeKube) -> None:
    app_with_history(fake_kube)

    outcome = run("kubernetes.rollback", namespace=NS, deployment=APP, to_revision=1)

    patch = fake_kube.requests[-1].body
    assert patch[0]["value"]["spec"]["containers"][0] == {"name": "app", "image": f"{APP}:1.0.0"}
    assert outcome.summary.startswith(f"rolled back deployment {NS}/{APP} from revision 3 to revision 1 ")


def test_rollback_to_a_missing_revision_lists_the_revisions(fake_kube: FakeKube) -> None:
    app_with_history(fake_kube)

    with pytest.raises(ActionError) as err:
        run("kubernetes.rollback", namespace=NS, deployment=APP, to_revision=9)

    assert str(err.value) == f"revision 9 of deployment {NS}/{APP} not found; its revisions are: 1, 2, 3"
    assert not err.value.retryable
    assert [r.method for r in fake_kube.requests] == ["GET", "GET"]


def test_rollback_without_a_previous_revision_says_so(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, APP)

    with pytest.raises(ActionError) as err:
        run("kubernetes.rollback", namespace=NS, deployment=APP)

    assert str(err.value) == (
        f"no previous revision of deployment {NS}/{APP} to roll back to: revision 1 is its only one"
    )
    assert not err.value.retryable
    assert [r.method for r in fake_kube.requests] == ["GET", "GET"]


def test_rollback_to_the_current_template_is_skipped(fake_kube: FakeKube) -> None:
    app_with_history(fake_kube)

    outcome = run("kubernetes.rollback", namespace=NS, deployment=APP, to_revision=3)

    assert (
        outcome.summary
        == f"skipped rollback of deployment {NS}/{APP}: its pod template already matches revision 3"
    )
    assert [r.method for r in fake_kube.requests] == ["GET", "GET"]


def test_rollback_refuses_a_paused_deployment(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, APP, paused=True, revision=2)
    fake_kube.add_replicaset(NS, APP, revision=1, containers=[{"name": "app", "image": f"{APP}:1.0.0"}])

    with pytest.raises(ActionError) as err:
        run("kubernetes.rollback", namespace=NS, deployment=APP)

    assert str(err.value).startswith(f"cannot roll back deployment {NS}/{APP}: it is paused")
    assert not err.value.retryable
    assert sent(fake_kube) == [("GET", deployment_path(NS, APP), {}, None, None)]


# --- wait_rollout -----------------------------------------------------------------------------


def test_wait_rollout_returns_once_the_rollout_completes(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS)
    run("kubernetes.rollout_restart", namespace=NS, deployment=WORKERS)
    fake_kube.clear_requests()

    outcome = run("kubernetes.wait_rollout", make_ctx(timeout=30), namespace=NS, deployment=WORKERS)

    assert (
        outcome.summary
        == f"deployment {NS}/{WORKERS} rolled out: 3 of 3 replicas updated, ready and available"
    )
    # The fake rolls out after two reads in progress: it polled until the third read saw it done.
    assert sent(fake_kube) == [GET_DEPLOYMENT] * 3


def test_wait_rollout_keeps_polling_through_a_transient_server_error(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS)
    run("kubernetes.rollout_restart", namespace=NS, deployment=WORKERS)
    fake_kube.fail(500, method="GET", path=deployment_path(NS, WORKERS))

    outcome = run("kubernetes.wait_rollout", make_ctx(timeout=5), namespace=NS, deployment=WORKERS)

    assert outcome.summary.startswith(f"deployment {NS}/{WORKERS} rolled out")


def test_wait_rollout_times_out_with_the_last_observed_state(fake_kube: FakeKube) -> None:
    fake_kube.rollout_reads = None  # the new pods never become ready
    fake_kube.add_deployment(NS, WORKERS)
    run("kubernetes.rollout_restart", namespace=NS, deployment=WORKERS)
    fake_kube.clear_requests()

    with pytest.raises(ActionError) as err:
        run("kubernetes.wait_rollout", make_ctx(timeout=0.6), namespace=NS, deployment=WORKERS)

    assert str(err.value) == (
        f"timed out after 600ms waiting for deployment {NS}/{WORKERS} to roll out; last state: "
        "1 of 3 new replicas updated (desired 3, updated 1, ready 3, available 3, total 4)"
    )
    assert not err.value.retryable
    polls = sent(fake_kube)
    assert len(polls) > 1  # it kept polling until the timeout
    assert polls == [GET_DEPLOYMENT] * len(polls)


def test_wait_rollout_is_bounded_by_the_step_timeout_even_when_the_api_hangs(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS)
    read = fake_kube.hold("GET", deployment_path(NS, WORKERS))

    with pytest.raises(ActionError) as err:
        run("kubernetes.wait_rollout", make_ctx(timeout=0.5), namespace=NS, deployment=WORKERS)

    assert read.holding  # the step returned while the API server still held its read
    read.release()
    assert str(err.value).startswith(
        f"timed out after 500ms waiting for deployment {NS}/{WORKERS} to roll out; last state: "
        f"last read failed: could not get deployments {NS}/{WORKERS}: the Kubernetes API did not answer ("
    )
    assert len(fake_kube.requests) == 1  # the timed-out read was not retried behind our back


def test_wait_rollout_fails_at_once_when_the_progress_deadline_is_exceeded(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS)
    fake_kube.set_status(
        NS,
        WORKERS,
        {
            "observedGeneration": 1,
            "replicas": 4,
            "updatedReplicas": 1,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": f'ReplicaSet "{WORKERS}-5d8f" has timed out progressing.',
                }
            ],
        },
    )

    with pytest.raises(ActionError) as err:
        run("kubernetes.wait_rollout", make_ctx(timeout=30), namespace=NS, deployment=WORKERS)

    assert str(err.value) == (
        f"deployment {NS}/{WORKERS} exceeded its progress deadline "
        "(desired 3, updated 1, ready 3, available 3, total 4): "
        f'ReplicaSet "{WORKERS}-5d8f" has timed out progressing.; look at its pods and events'
    )
    assert not err.value.retryable
    assert sent(fake_kube) == [GET_DEPLOYMENT]


# --- safety: allow-list and names -----------------------------------------------------------


def test_namespace_outside_the_allow_list_is_refused_and_nothing_sent(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment("kube-system", "coredns")

    with pytest.raises(ActionRefused) as err:
        run("kubernetes.rollout_restart", namespace="kube-system", deployment="coredns")

    assert str(err.value) == (
        'refused: parameter `namespace` is "kube-system", which is not in kubernetes.allowed_namespaces '
        "(embedding); add it in responder.yaml to allow actions there; nothing was sent"
    )
    assert not err.value.retryable
    assert fake_kube.requests == []


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize(
    ("param", "value", "kind", "limit"),
    [
        ("deployment", "x; rm -rf /", 'DNS-1123 subdomain, "." allowed', 253),
        ("deployment", "../other", 'DNS-1123 subdomain, "." allowed', 253),
        ("namespace", "../other", "DNS-1123 label", 63),
        ("namespace", "embedding\nother", "DNS-1123 label", 63),
        # `$` in a pattern accepts one trailing newline; the client would send it as %0A in the path.
        ("deployment", f"{WORKERS}\n", 'DNS-1123 subdomain, "." allowed', 253),
        ("namespace", f"{NS}\n", "DNS-1123 label", 63),
    ],
)
def test_injected_names_are_refused_and_nothing_sent(
    fake_kube: FakeKube, action: str, param: str, value: str, kind: str, limit: int
) -> None:
    params: dict[str, Any] = {"namespace": NS, "deployment": WORKERS, param: value}
    params |= {
        "kubernetes.scale": {"replicas": 1},
        "kubernetes.set_image": {"container": "app", "image": "app:2"},
    }.get(action, {})

    with pytest.raises(ActionRefused) as err:
        run(action, **params)

    quoted = value.replace("\n", "\\n")
    assert str(err.value) == (
        f'refused: parameter `{param}` is "{quoted}", not a valid Kubernetes name ({kind}: '
        f'lowercase letters, digits and "-", starting and ending with a letter or digit, '
        f"at most {limit} characters); nothing was sent"
    )
    assert fake_kube.requests == []


@pytest.mark.parametrize(("container", "shown"), [("app --all", "app --all"), ("app\n", "app\\n")])
def test_injected_container_name_is_refused_and_nothing_sent(
    fake_kube: FakeKube, container: str, shown: str
) -> None:
    with pytest.raises(ActionRefused) as err:
        run("kubernetes.set_image", namespace=NS, deployment=APP, container=container, image="app:2")

    assert str(err.value).startswith(
        f'refused: parameter `container` is "{shown}", not a valid Kubernetes name'
    )
    assert fake_kube.requests == []


@pytest.mark.parametrize(("image", "shown"), [("app:2\n", "app:2\\n"), ("app:café", "app:caf\\u00e9")])
def test_image_with_a_trailing_newline_or_non_ascii_tag_is_refused(
    fake_kube: FakeKube, image: str, shown: str
) -> None:
    fake_kube.add_deployment(NS, APP)

    with pytest.raises(ActionRefused) as err:
        run("kubernetes.set_image", namespace=NS, deployment=APP, container="app", image=image)

    assert str(err.value) == (
        f'refused: parameter `image` is "{shown}", not a valid image reference '
        "(like registry.example.com/team/app:1.2.3); nothing was sent"
    )
    assert fake_kube.requests == []


# --- API errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "retryable"),
    [
        (404, f"deployment {NS}/{WORKERS} not found", False),
        (
            403,
            "forbidden: the service account cannot patch deployments/scale in namespace embedding; "
            "see deploy/rbac.yaml",
            False,
        ),
        (
            409,
            f"conflict: deployment {NS}/{WORKERS} changed while being updated "
            f'(Operation cannot be fulfilled on deployments.apps "{WORKERS}": the object has been modified; '
            "please apply your changes to the latest version and try again); will retry",
            True,
        ),
        (
            500,
            f"could not patch deployments/scale {NS}/{WORKERS}: Kubernetes API error 500: "
            "Internal error occurred: etcdserver: request timed out",
            True,
        ),
    ],
)
def test_api_errors_say_what_happened_and_whether_to_retry(
    fake_kube: FakeKube, status: int, message: str, retryable: bool
) -> None:
    fake_kube.add_deployment(NS, WORKERS)
    fake_kube.fail(status, method="PATCH", path=scale_path(NS, WORKERS))

    with pytest.raises(ActionError) as err:
        run("kubernetes.scale", namespace=NS, deployment=WORKERS, replicas=0)

    assert str(err.value) == message
    assert err.value.retryable is retryable
    assert [(r.method, r.path) for r in fake_kube.requests] == [
        *[(method, path) for method, path, *_ in LOOKUP],
        ("PATCH", scale_path(NS, WORKERS)),
    ]


def test_missing_deployment_is_not_found_without_retry(fake_kube: FakeKube) -> None:
    with pytest.raises(ActionError) as err:
        run("kubernetes.rollout_restart", namespace=NS, deployment="embedding-queue-wrokers")

    assert str(err.value) == f"deployment {NS}/embedding-queue-wrokers not found"
    assert not err.value.retryable


def test_forbidden_replicaset_list_names_the_missing_permission(fake_kube: FakeKube) -> None:
    app_with_history(fake_kube)
    fake_kube.fail(403, method="GET", path=replicasets_path(NS))

    with pytest.raises(ActionError) as err:
        run("kubernetes.rollback", namespace=NS, deployment=APP)

    assert str(err.value) == (
        "forbidden: the service account cannot list replicasets in namespace embedding; see deploy/rbac.yaml"
    )
    assert not err.value.retryable


def test_relative_scale_racing_another_change_gets_a_retryable_conflict(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS, replicas=3)
    # Someone else scales between our read and our write: the resourceVersion no longer matches.
    ours_sent = fake_kube.hold("PATCH", scale_path(NS, WORKERS))
    ctx = make_ctx()
    chosen = ACTIONS["kubernetes.scale"]
    params = chosen.params.model_validate({"namespace": NS, "deployment": WORKERS, "by": 2})
    errors: list[ActionError] = []

    def ours() -> None:
        try:
            chosen.run(params, ctx)
        except ActionError as exc:
            errors.append(exc)

    thread = threading.Thread(target=ours)
    thread.start()
    assert ours_sent.arrived.wait(10)  # our PATCH, computed from 3 replicas, is at the API server
    run("kubernetes.scale", namespace=NS, deployment=WORKERS, replicas=4)  # the other change
    ours_sent.release()
    thread.join()

    assert len(errors) == 1 and errors[0].retryable
    assert str(errors[0]).startswith(f"conflict: deployment {NS}/{WORKERS} changed while being updated")
    assert fake_kube.deployment(NS, WORKERS)["spec"]["replicas"] == 4  # not 3 + 2 on top of it


def test_unreachable_api_server_is_retryable(fake_kube: FakeKube, kubeconfig: Path) -> None:
    write_kubeconfig(
        kubeconfig,
        {FAKE_CONTEXT: fake_kube.url, UNREACHABLE_CONTEXT: "http://127.0.0.1:9"},
        token=fake_kube.token,
        current_context=UNREACHABLE_CONTEXT,
    )
    kubernetes.reset_client()

    with pytest.raises(ActionError) as err:
        run("kubernetes.rollout_restart", namespace=NS, deployment=WORKERS)

    assert str(err.value).startswith(
        f"could not get deployments {NS}/{WORKERS}: the Kubernetes API did not answer ("
    )
    assert "Connection refused" in str(err.value)
    assert err.value.retryable


def test_a_patch_that_times_out_is_retryable(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS)
    patch = fake_kube.hold("PATCH")

    with pytest.raises(ActionError) as err:
        run("kubernetes.rollout_restart", make_ctx(timeout=0.5), namespace=NS, deployment=WORKERS)

    assert patch.holding  # the step gave up while the API server still held its request
    patch.release()
    assert str(err.value).startswith(
        f"could not patch deployments {NS}/{WORKERS}: the Kubernetes API did not answer ("
    )
    assert "timed out" in str(err.value)
    assert err.value.retryable


# --- dry run ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "params", "summary"),
    [
        ("kubernetes.rollout_restart", {}, f"would restart deployment {NS}/{APP} (3 replicas, rolling)"),
        ("kubernetes.scale", {"replicas": 0}, f"would scale deployment {NS}/{APP} from 3 to 0 replicas"),
        (
            "kubernetes.set_image",
            {"container": "app", "image": f"{APP}:previous-stable"},
            f"would set image of container app in deployment {NS}/{APP} to {APP}:previous-stable "
            f"(was {APP}:3.0.0)",
        ),
        (
            "kubernetes.rollback",
            {},
            f"would roll back deployment {NS}/{APP} from revision 3 to revision 2 "
            f"(app {APP}:3.0.0 → {APP}:2.0.0, log-shipper fluent-bit:3.0 → fluent-bit:3.0)",
        ),
    ],
)
def test_dry_run_sends_changes_with_dry_run_all_and_changes_nothing(
    fake_kube: FakeKube, action: str, params: dict[str, Any], summary: str
) -> None:
    app_with_history(fake_kube)
    before = fake_kube.deployment(NS, APP)

    outcome = run(action, make_ctx(dry_run=True), namespace=NS, deployment=APP, **params)

    patches = [r for r in fake_kube.requests if r.method == "PATCH"]
    assert len(patches) == 1
    assert patches[0].query == {"dryRun": "All", **MANAGED}
    assert outcome.summary == summary
    assert outcome.details["dry_run"] is True
    assert fake_kube.deployment(NS, APP) == before


def test_wait_rollout_in_dry_run_reports_the_state_without_waiting(fake_kube: FakeKube) -> None:
    fake_kube.rollout_reads = None
    fake_kube.add_deployment(NS, WORKERS)
    run("kubernetes.rollout_restart", namespace=NS, deployment=WORKERS)
    fake_kube.clear_requests()

    outcome = run(
        "kubernetes.wait_rollout", make_ctx(dry_run=True, timeout=300), namespace=NS, deployment=WORKERS
    )

    assert outcome.summary == (
        f"would wait up to 5m for deployment {NS}/{WORKERS} to roll out (now: 1 of 3 new replicas updated "
        "(desired 3, updated 1, ready 3, available 3, total 4))"
    )
    assert sent(fake_kube) == [GET_DEPLOYMENT]


# --- credentials ------------------------------------------------------------------------------


def test_context_from_responder_yaml_selects_the_kubeconfig_context(
    fake_kube: FakeKube, kubeconfig: Path
) -> None:
    fake_kube.add_deployment(NS, WORKERS)
    write_kubeconfig(
        kubeconfig,
        {FAKE_CONTEXT: fake_kube.url, UNREACHABLE_CONTEXT: "http://127.0.0.1:9"},
        token=fake_kube.token,
        current_context=UNREACHABLE_CONTEXT,
    )
    kubernetes.reset_client()

    outcome = run(
        "kubernetes.scale", make_ctx(context=FAKE_CONTEXT), namespace=NS, deployment=WORKERS, replicas=2
    )

    assert outcome.summary == f"scaled deployment {NS}/{WORKERS} from 3 to 2 replicas"
    assert fake_kube.requests[0].headers["authorization"] == f"Bearer {fake_kube.token}"


def test_credentials_are_loaded_once_per_process(kubeconfig: Path) -> None:
    first = kubernetes.load_client()

    assert kubernetes.load_client() is first
    kubernetes.reset_client()
    assert kubernetes.load_client() is not first


def test_missing_kubeconfig_is_a_clear_non_retryable_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope"))
    kubernetes.reset_client()

    with pytest.raises(ActionError) as err:
        run("kubernetes.rollout_restart", namespace=NS, deployment=WORKERS)

    assert str(err.value).startswith("cannot load Kubernetes credentials: ")
    assert str(err.value).endswith(
        "; run the worker in a pod with the alert-responder service account (deploy/rbac.yaml) "
        "or set KUBECONFIG"
    )
    assert not err.value.retryable


# --- default playbooks ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["restart_workers", "disable_queue", "full_rollback", "scale_workers"])
def test_default_playbooks_kubernetes_steps_have_valid_params(name: str) -> None:
    playbook = Playbook.model_validate(yaml.safe_load((PLAYBOOKS / f"{name}.yaml").read_text()))

    steps = [step for step in playbook.steps if step.action.startswith("kubernetes.")]

    assert playbook.name == name
    assert steps
    for step in steps:
        ACTIONS[step.action].params.model_validate(step.with_)
