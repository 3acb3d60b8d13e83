"""Incidents: alerts grouped by rule and key, their lifecycle and timeline."""
