"""What is checked before anything is sent: names and the namespace allow-list.

The checks run on the rendered parameters, so a label value such as ``x; rm -rf /`` or
``../other`` that a template put into a name is refused (:class:`ActionRefused`) and never sent.
"""

from __future__ import annotations

import json
import re

from responder.actions.base import ActionContext
from responder.actions.kubernetes.params import DeploymentParams
from responder.errors import ActionRefused

# Patterns are used with fullmatch: `$` would also accept a trailing newline, which the API
# client would then send percent-encoded in the path.
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# An image reference as Docker's distribution/reference grammar has it:
# [registry[:port]/]path[:tag][@digest], lowercase path components; ASCII only (`\w` would
# otherwise admit any Unicode letter in the tag).
IMAGE = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?",
    re.ASCII,
)


def check_name(param: str, value: str, pattern: re.Pattern[str], limit: int, kind: str) -> None:
    if len(value) > limit or not pattern.fullmatch(value):
        raise ActionRefused(
            f"refused: parameter `{param}` is {json.dumps(value)}, not a valid Kubernetes name ({kind}: "
            f'lowercase letters, digits and "-", starting and ending with a letter or digit, '
            f"at most {limit} characters); nothing was sent"
        )


def check_target(params: DeploymentParams, ctx: ActionContext) -> None:
    """Refuse unsafe parameters before anything is sent (raises ActionRefused)."""
    check_name("namespace", params.namespace, DNS1123_LABEL, 63, "DNS-1123 label")
    check_name("deployment", params.deployment, DNS1123_SUBDOMAIN, 253, 'DNS-1123 subdomain, "." allowed')
    allowed = ctx.config.responder.kubernetes.allowed_namespaces
    if params.namespace not in allowed:
        listed = ", ".join(allowed) if allowed else "none"
        raise ActionRefused(
            f"refused: parameter `namespace` is {json.dumps(params.namespace)}, which is not in "
            f"kubernetes.allowed_namespaces ({listed}); add it in responder.yaml to allow actions there; "
            "nothing was sent"
        )


def check_image(image: str) -> None:
    """Refuse an image that is not an image reference (raises ActionRefused)."""
    if len(image) > 4096 or not IMAGE.fullmatch(image):
        raise ActionRefused(
            f"refused: parameter `image` is {json.dumps(image)}, not a valid image reference "
            "(like registry.example.com/team/app:1.2.3); nothing was sent"
        )
