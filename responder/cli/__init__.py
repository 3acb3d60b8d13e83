"""The ``responder`` command (console script ``responder = responder.cli:main``).

:mod:`.base` holds the group and what commands share; :mod:`.local` the commands that run
here, :mod:`.operate` those that talk to a running responder's API.
"""

from responder.cli import local, operate  # noqa: F401 - importing them registers their commands
from responder.cli.base import main

__all__ = ["main"]
