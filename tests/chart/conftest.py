"""Fixtures of the chart tests: the real helm (tests/support/helm.py) and common renders."""

from __future__ import annotations

import pytest

from tests.support.helm import Helm, Rendered, require_helm


@pytest.fixture(scope="session")
def helm() -> Helm:
    return Helm(require_helm())


@pytest.fixture(scope="session")
def default_render(helm: Helm) -> Rendered:
    """The chart with its default values, as `helm template` renders it."""
    return helm.template()
