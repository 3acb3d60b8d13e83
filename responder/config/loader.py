"""Load a config directory strictly, with file:line for every error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from responder.config.models import Playbook, ResponderConfig, Rule


@dataclass(frozen=True)
class LoadedConfig:
    """A whole config directory, loaded and cross-checked."""

    directory: Path
    responder: ResponderConfig
    rules: list[Rule]
    playbooks: dict[str, Playbook]
    warnings: list[str] = field(default_factory=list)
