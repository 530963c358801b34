"""Validate objects against the real IDMS/ITMS/ICSP CRDs (tests/data/crds, from ../shared)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRD_DIR = Path(__file__).parents[1] / "data" / "crds"


@cache
def _schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for path in CRD_DIR.glob("*.crd.yaml"):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = _as_json_schema(version["schema"]["openAPIV3Schema"])
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def _as_json_schema(node: Any) -> Any:
    """OpenAPI v3 as the API server reads it: `x-kubernetes-list-type: set` means unique items."""
    if isinstance(node, dict):
        converted = {key: _as_json_schema(value) for key, value in node.items()}
        if node.get("x-kubernetes-list-type") == "set":
            converted["uniqueItems"] = True
        return converted
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    return node


def crd_schema_errors(document: dict[str, Any]) -> list[str]:
    """Messages for every way `document` breaks its CRD; [] when the API server would accept it."""
    schema = _schemas().get((document.get("apiVersion", ""), document.get("kind", "")))
    if schema is None:
        return [f"no CRD for {document.get('apiVersion')} {document.get('kind')}"]
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(document)
    ]
