"""Telling people: one module per channel (Slack, email, PagerDuty), one interface (``base``).

``dispatch.notify`` sends a message on several channels to several teams;
``slack_interactions`` verifies and parses Slack button clicks.
"""
