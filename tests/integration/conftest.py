"""Fixtures for the integration tests beyond the shared ones in tests/conftest.py."""

from tests.fakes.kube_fixtures import fake_kube, kubeconfig

__all__ = ["fake_kube", "kubeconfig"]
