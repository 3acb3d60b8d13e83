"""Escalation: who is told when, and the timers that tell them."""
