"""Rendered documents against the Kubernetes API schemas, for several Kubernetes versions.

`kubernetes-validate` ships the OpenAPI schemas of each Kubernetes release; strict mode
also rejects fields the API does not have (a typo such as `readinesProbe` would otherwise
be dropped silently by the API server). Kinds that come from CRDs (cert-manager,
prometheus-operator) have no schema there and are checked structurally by the tests.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
from kubernetes_validate.utils import latest_version

SCHEMAS = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
VERSIONS = ("1.28", "1.33", ".".join(latest_version().split(".")[:2]))
"""The oldest Kubernetes the chart renders matchConditions for, a current one, the newest."""

CRD_KINDS = {
    ("cert-manager.io/v1", "Certificate"),
    ("cert-manager.io/v1", "Issuer"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}


def schema_errors(document: dict[str, Any], version: str) -> str | None:
    """None when `document` is valid for Kubernetes `version`, else why not."""
    return _schema_errors(json.dumps(document, sort_keys=True), version)


@cache
def _schema_errors(document_json: str, version: str) -> str | None:
    # Many renders share documents: each distinct one is validated once per version.
    document = json.loads(document_json)
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path)
        return f"{where}: {error.message}"
    except kubernetes_validate.SchemaNotFoundError as error:
        return error.message
    return None


def kubernetes_properties(kind: str, version: str) -> set[str]:
    """The field names of a Kubernetes API type (e.g. SecurityContext) in one release."""
    major_minor = ".".join(version.split(".")[:2])
    path = SCHEMAS / f"v{major_minor}.0-local-strict" / f"{kind.lower()}-v1.json"
    return set(json.loads(path.read_text())["properties"])
