"""values.yaml and values.schema.json: lint-clean, every value documented, nothing unknown.

Like cert-manager's chart, the schema closes every object the chart defines
(`additionalProperties: false`), so a misspelt key fails `helm install` instead of being
ignored; free-form Kubernetes objects (resources, affinity, …) stay open, and the API
schemas check them once rendered (test_render.py).
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from tests.chart.cases import CI_VALUES
from tests.support.helm import CHART, Helm, HelmError

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES_TEXT = (CHART / "values.yaml").read_text()
VALUES = yaml.safe_load(VALUES_TEXT)


@pytest.mark.parametrize(
    "value_file",
    [None, *sorted(path.name for path in CI_VALUES.glob("*.yaml"))],
    ids=lambda name: name or "defaults",
)
def test_lint_strict_passes(helm: Helm, value_file: str | None) -> None:
    files = [CI_VALUES / value_file] if value_file else []
    output = helm.lint(value_files=files)
    assert "0 chart(s) failed" in output
    assert "[WARNING]" not in output


@pytest.mark.parametrize(
    "values",
    [
        {"bogus": True},
        {"image": {"tags": "1.0"}},
        {"webhooks": {"enforce": {"failurePolicy": "Ignore", "timeout": 3}}},
        {"certificates": {"helm": {"rotateNow": True}}},
        {"networkPolicy": {"egress": {"enable": True}}},
        {"probes": {"liveness": {"initialDelay": 3}}},
        {"registry": {"auth": {"secret": "pull"}}},
    ],
    ids=lambda values: json.dumps(values),
)
def test_unknown_keys_are_rejected(helm: Helm, values: dict[str, Any]) -> None:
    with pytest.raises(HelmError, match="additional propert"):
        helm.template(values)


@pytest.mark.parametrize(
    "values",
    [
        {"certificates": {"mode": "vault"}},
        {"replicaCount": "two"},
        {"webhooks": {"timeoutSeconds": 31}},
        {"webhooks": {"matchConditions": "sometimes"}},
        {"image": {"digest": "latest"}},
        {"pinning": {"lookupTimeoutSeconds": 0}},
        {"certificates": {"certManager": {"duration": "90 days"}}},
        {"policy": {"exemptNamespaces": ["team-a,team-b"]}},
    ],
    ids=lambda values: json.dumps(values),
)
def test_invalid_values_are_rejected(helm: Helm, values: dict[str, Any]) -> None:
    with pytest.raises(HelmError, match="schema"):
        helm.template(values)


def test_the_schema_is_valid_and_accepts_the_defaults_and_every_ci_value_set() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft7Validator(SCHEMA)
    assert list(validator.iter_errors(VALUES)) == []
    for path in CI_VALUES.glob("*.yaml"):
        merged = _merged(VALUES, yaml.safe_load(path.read_text()))
        assert list(validator.iter_errors(merged)) == [], path.name


def test_every_schema_property_has_a_default_in_values_yaml() -> None:
    missing = [path for path in _schema_paths(SCHEMA) if not _has(VALUES, path)]
    assert missing == []


def test_every_value_is_documented_where_it_is_set() -> None:
    """Each value (and each free-form object) has a `# --` comment right above it."""
    lines = VALUES_TEXT.splitlines()
    undocumented = []
    for path, line in _value_lines(yaml.compose(VALUES_TEXT), SCHEMA, ()):
        comment = []
        for above in reversed(lines[:line]):
            if not above.strip().startswith("#"):
                break
            comment.append(above.strip())
        if not any(text.startswith("# --") for text in comment):
            undocumented.append(".".join(path))
    assert undocumented == []


def test_notes_walk_through_audit_then_warn_then_enforce(helm: Helm) -> None:
    notes = helm.notes()
    commands = [
        "kubectl label namespace <ns> idms-guard.io/mode=audit",
        "kubectl label namespace <ns> idms-guard.io/mode=warn --overwrite",
        "kubectl label namespace <ns> idms-guard.io/mode=enforce --overwrite",
    ]
    positions = [notes.index(command) for command in commands]
    assert positions == sorted(positions)
    assert "oc label" in notes
    assert "kubectl label namespace <ns> idms-guard.io/pin-digests=true" in notes
    assert "helm test guard" in notes


def _merged(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        return {
            key: _merged(base.get(key), override[key]) if key in override else base[key]
            for key in base.keys() | override.keys()
        }
    return override


def _schema_paths(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for key, child in schema.get("properties", {}).items():
        path = (*prefix, key)
        paths.append(path)
        if child.get("type") == "object" and "properties" in child and _closed(child):
            paths += _schema_paths(child, path)
    return paths


def _closed(schema: dict[str, Any]) -> bool:
    """An object the chart defines key by key (not a user-filled reference like issuerRef,
    nor a Kubernetes object such as securityContext whose keys alone the schema lists)."""
    kubernetes_object = all(child == {} for child in schema.get("properties", {}).values())
    return (
        schema.get("additionalProperties") is False
        and "anyOf" not in schema
        and not kubernetes_object
    )


def _has(values: Any, path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(values, dict) or key not in values:
            return False
        values = values[key]
    return True


def _value_lines(
    node: yaml.Node, schema: dict[str, Any], path: tuple[str, ...]
) -> list[tuple[tuple[str, ...], int]]:
    """(path, line index) of every value the chart defines, recursing into its objects."""
    found = []
    assert isinstance(node, yaml.MappingNode)
    for key_node, value_node in node.value:
        child = schema["properties"][key_node.value]
        child_path = (*path, key_node.value)
        if child.get("type") == "object" and "properties" in child and _closed(child):
            found += _value_lines(value_node, child, child_path)
        else:
            found.append((child_path, key_node.start_mark.line))
    return found
