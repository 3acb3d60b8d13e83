"""The parameters of the ``kubernetes.*`` actions, as playbook steps give them (``with:``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from responder.actions.base import Params


class DeploymentParams(Params):
    """A Deployment to act on."""

    namespace: str = Field(
        description="Namespace of the Deployment; must be in `kubernetes.allowed_namespaces`."
    )
    deployment: str = Field(description="Name of the Deployment (a DNS-1123 name, checked after rendering).")


class RolloutRestartParams(DeploymentParams):
    """``kubernetes.rollout_restart``: replace every pod of the Deployment, rolling."""


class ScaleParams(DeploymentParams):
    """``kubernetes.scale``: set the Deployment's replicas, absolutely or relatively, within bounds.

    A Deployment driven by an autoscaler (a HorizontalPodAutoscaler or a KEDA ScaledObject) is
    scaled through that autoscaler or not at all, as ``autoscaler`` says.
    """

    replicas: int | None = Field(
        default=None, ge=0, description="Number of replicas to set (give this or `by`)."
    )
    by: int | None = Field(
        default=None,
        description="Change relative to the current replicas, e.g. 2 or -1 (give this or `replicas`).",
    )
    min: int | None = Field(default=None, ge=0, description="Never scale below this many replicas.")
    max: int | None = Field(default=None, ge=0, description="Never scale above this many replicas.")
    autoscaler: Literal["refuse", "adjust", "restore"] = Field(
        default="refuse",
        description=(
            "When an autoscaler drives the Deployment: `refuse` (the default: fail, it would undo the "
            "change), `adjust` (set the autoscaler so the replicas hold: HPA minReplicas, KEDA "
            "paused-replicas), `restore` (put back what the last `adjust` changed; no `replicas`/`by`)."
        ),
    )

    @model_validator(mode="after")
    def _one_target(self) -> ScaleParams:
        if self.autoscaler == "restore":
            given = [
                f"`{name}`" for name in ("replicas", "by", "min", "max") if getattr(self, name) is not None
            ]
            if given:
                raise ValueError(
                    f"`autoscaler: restore` puts back what the last `autoscaler: adjust` changed and takes "
                    f"no {' or '.join(given)}; remove {'them' if len(given) > 1 else 'it'}, or use "
                    "`autoscaler: adjust` to scale"
                )
            return self
        if (self.replicas is None) == (self.by is None):
            raise ValueError(
                "give exactly one of `replicas` or `by` (only `autoscaler: restore` takes neither)"
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"`min` ({self.min}) is greater than `max` ({self.max})")
        return self


class SetImageParams(DeploymentParams):
    """``kubernetes.set_image``: change the image of one container of the Deployment's pods."""

    container: str = Field(description="Name of the container (or init container) in the pod template.")
    image: str = Field(description="Image reference to run, e.g. `paperless-maverick:previous-stable`.")


class RollbackParams(DeploymentParams):
    """``kubernetes.rollback``: go back to an earlier revision's pod template."""

    to_revision: int | None = Field(
        default=None, ge=1, description="Revision to return to; default the one before the current."
    )


class WaitRolloutParams(DeploymentParams):
    """``kubernetes.wait_rollout``: wait, up to the step's timeout, until the Deployment is rolled out."""
