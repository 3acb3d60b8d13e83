"""The web process: Alertmanager webhook, Slack interactions, operator API, health."""
