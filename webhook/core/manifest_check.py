"""`idms-guard check`: the webhook's policy applied to manifests before they reach a cluster.

The same `findings_for` as admission, so a pipeline and the webhook never disagree;
findings carry file and line so editors and code-scanning tools can point at the image.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from webhook.core.mirror_index import MirrorIndex
from webhook.core.policy import Finding, PolicySettings, Reason, findings_for, namespace_exempt
from webhook.core.presence import PresenceVerdict
from webhook.core.workloads import SUPPORTED_KINDS, ImageSite, image_sites

LineOf = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class ManifestObject:
    path: str
    pointer: str
    """Where the object sits in its document: "" or "/items/<n>" inside a List."""
    body: Mapping[str, Any]
    line_of: LineOf

    @property
    def group_kind(self) -> tuple[str, str]:
        api_version = self.body.get("apiVersion")
        group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
        kind = self.body.get("kind")
        return group, kind if isinstance(kind, str) else ""

    @property
    def metadata(self) -> Mapping[str, Any]:
        metadata = self.body.get("metadata")
        return metadata if isinstance(metadata, Mapping) else {}


@dataclass(frozen=True, slots=True)
class CheckFinding:
    path: str
    line: int
    kind: str
    name: str
    namespace: str
    finding: Finding


def manifest_objects(path: str, body: Any, line_of: LineOf) -> list[ManifestObject]:
    """The objects of one document: itself, or the items of a `List` (kubectl's output)."""
    if not isinstance(body, Mapping):
        return []
    kind = body.get("kind")
    items = body.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        return [
            ManifestObject(path, f"/items/{n}", item, line_of)
            for n, item in enumerate(items)
            if isinstance(item, Mapping)
        ]
    return [ManifestObject(path, "", body, line_of)]


def check_objects(
    objects: Iterable[ManifestObject],
    index: MirrorIndex,
    settings: PolicySettings,
    presence: Mapping[str, PresenceVerdict] | None = None,
) -> list[CheckFinding]:
    """`presence` (from `--verify-mirror`) adds `not-in-mirror` where no mirror holds it."""
    results: list[CheckFinding] = []
    for obj, sites in _checked(objects, settings):
        _, kind = obj.group_kind
        namespace = _text(obj.metadata.get("namespace"))
        name = _text(obj.metadata.get("name")) or _text(obj.metadata.get("generateName"))
        for finding in findings_for(sites, index, settings, presence=presence):
            line = obj.line_of(obj.pointer + finding.site.pointer)
            results.append(CheckFinding(obj.path, line, kind, name, namespace, finding))
    return results


def checked_sites(objects: Iterable[ManifestObject], settings: PolicySettings) -> list[ImageSite]:
    """Every image `check_objects` judges: what `--verify-mirror` may ask about."""
    return [site for _, sites in _checked(objects, settings) for site in sites]


def _checked(
    objects: Iterable[ManifestObject], settings: PolicySettings
) -> Iterator[tuple[ManifestObject, tuple[ImageSite, ...]]]:
    """Workloads outside the exempt namespaces, with their images."""
    for obj in objects:
        group, kind = obj.group_kind
        if (group, kind) not in SUPPORTED_KINDS:
            continue
        namespace = _text(obj.metadata.get("namespace"))
        if namespace and namespace_exempt(namespace, settings):
            continue
        yield obj, image_sites(group, kind, obj.body)


def render_text(findings: Iterable[CheckFinding]) -> str:
    lines = []
    for item in findings:
        finding = item.finding
        lines.append(
            f"{item.path}:{item.line}: {item.kind}/{item.name} {finding.site.describe()}: "
            f"image {finding.image}: {finding.reason.value}: {finding.problem} — {finding.fix}"
        )
    return "\n".join(lines)


def render_json(findings: Iterable[CheckFinding]) -> str:
    return json.dumps(
        [
            {
                "file": item.path,
                "line": item.line,
                "kind": item.kind,
                "name": item.name,
                "namespace": item.namespace,
                "container": item.finding.site.container,
                "containerType": item.finding.site.container_type.value,
                "pointer": item.finding.site.pointer,
                "image": item.finding.image,
                "reason": item.finding.reason.value,
                "problem": item.finding.problem,
                "fix": item.finding.fix,
            }
            for item in findings
        ],
        indent=2,
    )


_RULE_TEXT = {
    Reason.TAG_NOT_MIRRORED: "Pulled by tag, and no ImageTagMirrorSet serves it",
    Reason.SOURCE_NOT_MIRRORED: "Pulled by digest, and no ImageDigestMirrorSet serves it",
    Reason.SOURCE_BLOCKED_NO_MIRROR: "The source is blocked and no mirror serves the pull",
    Reason.SHORT_NAME: "Short name: the registry depends on the node",
    Reason.INVALID_REFERENCE: "The image reference does not parse",
    Reason.NOT_IN_MIRROR: "None of the mirrors the node would try holds the image",
    Reason.REGISTRY_NOT_ALLOWED: "The node's signature policy rejects the registry",
}


def render_sarif(findings: Iterable[CheckFinding], level: str, version: str) -> dict[str, Any]:
    """SARIF 2.1.0, the format GitHub and GitLab code scanning read."""
    findings = list(findings)
    # registry-not-allowed exists only where Image/cluster or a node policy.json is given:
    # listed when it occurs, so runs without one read as before.
    used = {item.finding.reason for item in findings}
    rules = [
        {"id": reason.value, "shortDescription": {"text": text}}
        for reason, text in _RULE_TEXT.items()
        if reason is not Reason.REGISTRY_NOT_ALLOWED or reason in used
    ]
    results = [
        {
            "ruleId": item.finding.reason.value,
            "level": level,
            "message": {
                "text": f"{item.kind}/{item.name} {item.finding.site.describe()}: "
                f"{item.finding.image}: {item.finding.problem}. Fix: {item.finding.fix}"
            },
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": item.path},
                        "region": {"startLine": item.line},
                    }
                }
            ],
        }
        for item in findings
    ]
    driver = {"name": "idms-guard", "version": version, "rules": rules}
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
