"""alert-responder: Alertmanager alerts in, playbook runs and pages out."""

__version__ = "0.1.0"
