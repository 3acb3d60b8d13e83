"""Alert routing: Alertmanager matchers and rule order. Pure functions, no I/O."""
