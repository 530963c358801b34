"""What enforce mode would deny in a running cluster: one row per problem, and the images to
add to the mirroring pipeline.

Rows come from `findings_for`, the function the webhook calls, so the report and the webhook
cannot disagree. A Deployment, its ReplicaSets and their Pods carry the same pod template,
and old ReplicaSets keep old templates for rollbacks: reporting every object would repeat
each problem three times and keep the report red after the Deployment is fixed. So an
object is reported only when no *listed* object is its controller (`ownerReferences` with
`controller: true`, matched by uid): rows go to the top of each chain (Deployment, CronJob,
DeploymentConfig, StatefulSet, DaemonSet, or a Pod, ReplicaSet or Job of its own). A Pod
controlled by something the report does not list (an operator's custom resource) is
reported itself, since nothing else would show it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.core.mirror_index import MirrorIndex
from webhook.core.policy import PolicySettings, Reason, findings_for, namespace_exempt
from webhook.core.presence import PresenceVerdict
from webhook.core.workloads import ImageSite, image_sites

NOT_MIRRORED = frozenset(
    {
        Reason.TAG_NOT_MIRRORED,
        Reason.SOURCE_NOT_MIRRORED,
        Reason.SOURCE_BLOCKED_NO_MIRROR,
        Reason.NOT_IN_MIRROR,
    }
)
"""Reasons that mirroring the image fixes: what the oc-mirror snippet lists (with
`--verify-mirror`, also images configured to come from a mirror that does not hold them)."""


@dataclass(frozen=True, slots=True)
class InventoryItem:
    """One object read from the cluster, as the API returned it."""

    namespace: str
    group: str
    kind: str
    name: str
    obj: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ReportRow:
    namespace: str
    mode: str
    """The namespace's `idms-guard.io/mode` today ("" when it has none)."""
    kind: str
    name: str
    site: ImageSite
    reason: Reason
    problem: str
    fix: str
    reference: str | None
    """The fully-qualified reference the node pulls, for the not-mirrored reasons."""

    @property
    def image(self) -> str:
        return self.site.image if self.site.image is not None else "<no image>"


def report_rows(
    items: Iterable[InventoryItem],
    index: MirrorIndex,
    settings: PolicySettings,
    mode_by_namespace: Mapping[str, str | None],
    presence: Mapping[str, PresenceVerdict] | None = None,
) -> list[ReportRow]:
    """Findings of every uncontrolled object outside the exempt namespaces, in namespace,
    kind and name order, each object's images in the order the kubelet starts them.
    `presence` (from `--verify-mirror`) adds `not-in-mirror` where no mirror holds it."""
    rows: list[ReportRow] = []
    for item, sites in _reported(items, settings):
        mode = mode_by_namespace.get(item.namespace) or ""
        for finding in findings_for(sites, index, settings, presence=presence):
            reference = None
            if finding.reason in NOT_MIRRORED:
                reference = str(index.explain(finding.image).plans[0].reference)
            where = (item.namespace, mode, item.kind, item.name, finding.site)
            rows.append(ReportRow(*where, finding.reason, finding.problem, finding.fix, reference))
    return sorted(rows, key=lambda row: (row.namespace, row.kind, row.name))


def report_sites(items: Iterable[InventoryItem], settings: PolicySettings) -> list[ImageSite]:
    """Every image `report_rows` judges: what `--verify-mirror` may ask about."""
    return [site for _, sites in _reported(items, settings) for site in sites]


def _reported(
    items: Iterable[InventoryItem], settings: PolicySettings
) -> Iterator[tuple[InventoryItem, tuple[ImageSite, ...]]]:
    listed = list(items)
    controllers = _identities(listed)
    for item in listed:
        if not namespace_exempt(item.namespace, settings) and not _controlled(item, controllers):
            yield item, image_sites(item.group, item.kind, item.obj)


def _identities(items: Sequence[InventoryItem]) -> set[tuple[str, ...]]:
    identities: set[tuple[str, ...]] = set()
    for item in items:
        uid = _metadata(item.obj).get("uid")
        if isinstance(uid, str) and uid:
            identities.add((item.namespace, uid))
        identities.add((item.namespace, item.group, item.kind, item.name))
    return identities


def _controlled(item: InventoryItem, controllers: set[tuple[str, ...]]) -> bool:
    """Matched by uid; by group, kind and name only when the reference carries no uid."""
    references = _metadata(item.obj).get("ownerReferences")
    for reference in references if isinstance(references, list) else ():
        if not isinstance(reference, Mapping) or reference.get("controller") is not True:
            continue
        uid = reference.get("uid")
        if isinstance(uid, str) and uid:
            return (item.namespace, uid) in controllers
        group = str(reference.get("apiVersion", "")).rpartition("/")[0]
        key = (item.namespace, group, str(reference.get("kind")), str(reference.get("name")))
        return key in controllers
    return False


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


_HEADERS = ("OBJECT", "CONTAINER", "IMAGE", "REASON", "FIX")


def render_table(rows: Sequence[ReportRow]) -> str:
    """A table per namespace, headed by its current mode and the number of denials."""
    blocks = []
    for namespace in sorted({row.namespace for row in rows}):
        chosen = [row for row in rows if row.namespace == namespace]
        mode = f"mode {chosen[0].mode}" if chosen[0].mode else "no idms-guard.io/mode label"
        count = f"{len(chosen)} image{'s' if len(chosen) != 1 else ''}"
        title = f"namespace {_cell(namespace)} ({mode}): {count} would be denied in enforce mode"
        cells = [
            (f"{r.kind}/{_cell(r.name)}", r.site.describe(), _cell(r.image), r.reason.value, r.fix)
            for r in chosen
        ]
        widths = [max(len(line[i]) for line in [_HEADERS, *cells]) for i in range(len(_HEADERS))]
        lines = [title] + [
            "  " + "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True))
            for line in [_HEADERS, *cells]
        ]
        blocks.append("\n".join(line.rstrip() for line in lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def render_json(rows: Sequence[ReportRow]) -> str:
    findings = [
        {
            "namespace": row.namespace,
            "mode": row.mode or None,
            "kind": row.kind,
            "name": row.name,
            "container": row.site.container,
            "containerType": row.site.container_type.value,
            "pointer": row.site.pointer,
            "image": row.site.image,
            "reason": row.reason.value,
            "problem": row.problem,
            "fix": row.fix,
            "reference": row.reference,
        }
        for row in rows
    ]
    return json.dumps({"findings": findings}, indent=2) + "\n"


def oc_mirror_images(rows: Iterable[ReportRow]) -> list[str]:
    """References no mirror serves, deduplicated and sorted."""
    return sorted({row.reference for row in rows if row.reference is not None})


def oc_mirror_snippet(rows: Iterable[ReportRow]) -> str:
    """An oc-mirror v2 `ImageSetConfiguration` listing them as `additionalImages`.

    Written by hand because the core is standard library only; every value is either a
    plain scalar that YAML reads back unchanged or JSON-quoted (JSON strings are YAML).
    """
    images = oc_mirror_images(rows)
    lines = [
        "# Images no mirror serves or holds (idms-guard report). Mirror them with oc-mirror,",
        "# then apply the ImageDigestMirrorSet / ImageTagMirrorSet it writes.",
        "kind: ImageSetConfiguration",
        "apiVersion: mirror.openshift.io/v2alpha1",
        "mirror:",
        "  additionalImages:" + ("" if images else " []"),
        *(f"  - name: {_yaml_scalar(image)}" for image in images),
    ]
    return "\n".join(lines) + "\n"


_PLAIN = re.compile(r"[a-z0-9][A-Za-z0-9._/@:+-]*")


def _yaml_scalar(text: str) -> str:
    return text if _PLAIN.fullmatch(text) and ": " not in text else json.dumps(text)


def _cell(text: str) -> str:
    """Object names and images are untrusted: nothing unprintable reaches a terminal."""
    return text if text.isprintable() and " " not in text else json.dumps(text)
