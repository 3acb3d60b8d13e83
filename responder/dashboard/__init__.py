"""The dashboard: server-rendered pages to see and steer incidents in a browser (docs/operations.md).

Flask + Jinja2 templates and a vendored htmx (``static/``), no JavaScript build; every
page reads and works with JavaScript off. Pages: ``/ui/`` (incidents), ``/ui/incidents/<id>``,
``/ui/flags``, ``/ui/automation``, ``/ui/config``, ``/ui/login``.
"""

from responder.dashboard.install import install

__all__ = ["install"]
