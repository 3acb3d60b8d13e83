"""Playbook runs: templating, step execution, resumption."""
