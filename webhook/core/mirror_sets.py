"""IDMS, ITMS and ICSP objects → validated mirror rules, as the API server and the MCO see them.

Two gates stand between an object and a node (spec §1, §3.4):

* the API server's CRD schema: an IDMS/ITMS that breaks it never exists in a cluster, so
  such an object is *refused* and left out; ICSP has almost no schema, so its patterns
  are checked only by the next gate;
* the machine-config operator's `validateRegistriesConfScopes`: one bad pattern, one
  conflicting `mirrorSourcePolicy` or one `NeverContactSource` source listed as its own
  mirror makes the operator render *nothing*; nodes keep their previous configuration.

`load_mirror_sets` never raises for bad objects: it returns every problem, named by
object and field, plus the rules that the node would still be using. For an MCO
rejection that is the configuration without the offending objects, the best estimate of
"what the nodes had before" that can be made from the objects alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from webhook.core.image_config import NodeImageConfig, node_image_config
from webhook.core.image_config_schema import (
    IMAGE_ORIGIN,
    RegistrySources,
    is_image_config_kind,
    read_config_object,
)
from webhook.core.mirror_set_schema import (
    ConfigProblem,
    MirrorRule,
    MirrorSetKind,
    ObjectId,
    ProblemScope,
    read_object,
    valid_mirror,
    valid_source,
)
from webhook.core.registry_tables import build_tables


@dataclass(frozen=True, slots=True)
class MirrorSetConfig:
    """Every object read, what was wrong with them, and the rules nodes would use."""

    objects: tuple[ObjectId, ...]
    problems: tuple[ConfigProblem, ...]
    rules: tuple[MirrorRule, ...]
    mco_rejection: str | None
    """The error the MCO reports (first in its own order) when it refuses to render."""
    node: NodeImageConfig | None = None
    """Image/cluster's effect on nodes; None without an Image the operator accepts."""
    image_objects: tuple[str, ...] = ()
    """The Image and ClusterVersion objects read (`Kind/name`)."""

    @property
    def excluded_objects(self) -> frozenset[str]:
        kept_anyway = (ProblemScope.FIELD_DROPPED, ProblemScope.NOTE)
        return frozenset(p.object for p in self.problems if p.scope not in kept_anyway)


def flatten_lists(documents: Iterable[Any]) -> list[Any]:
    """Expand `kind: List` and `<Kind>List` documents into their items, as kubectl does."""
    flat: list[Any] = []
    for document in documents:
        kind = document.get("kind") if isinstance(document, Mapping) else None
        if isinstance(kind, str) and kind.endswith("List") and "items" in document:
            items = document.get("items") or []
            flat.extend(flatten_lists(items if isinstance(items, list) else [items]))
        elif document is not None:
            flat.append(document)
    return flat


def load_mirror_sets(documents: Iterable[Any]) -> MirrorSetConfig:
    """Validate objects as the API server and the MCO would, and keep what nodes would use.

    Image and ClusterVersion documents may come along: Image/cluster's registry sources
    then shape the tables, search list and signature policy (`image_config`)."""
    objects: list[ObjectId] = []
    problems: list[ConfigProblem] = []
    candidate_rules: list[MirrorRule] = []
    image = _ImageInput()
    for position, document in enumerate(flatten_lists(documents)):
        if is_image_config_kind(document):
            image.read(document, position, problems)
            continue
        read = read_object(document, position)
        problems.extend(read.problems)
        if read.object_id is not None:
            objects.append(read.object_id)
        candidate_rules.extend(read.rules)

    refused = {p.object for p in problems if p.scope is ProblemScope.OBJECT_REFUSED}
    admitted = [rule for rule in candidate_rules if str(rule.origin) not in refused]
    rejections = mco_validation_problems(admitted)
    problems.extend(rejections)
    excluded = refused | {p.object for p in rejections}
    kept = tuple(rule for rule in admitted if str(rule.origin) not in excluded)
    node = image.node(kept, problems) if not rejections else None
    rejection = next((p.message for p in problems if p.scope is ProblemScope.CONFIG_REJECTED), None)
    return MirrorSetConfig(
        objects=tuple(objects),
        problems=tuple(problems),
        rules=kept,
        mco_rejection=rejection,
        node=node,
        image_objects=tuple(image.names),
    )


class _ImageInput:
    """Image/cluster and ClusterVersion/version as read so far."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.sources: RegistrySources | None = None
        self.release_image: str | None = None

    def read(self, document: Any, position: int, problems: list[ConfigProblem]) -> None:
        read = read_config_object(document, position)
        problems.extend(read.problems)
        if read.name is not None:
            self.names.append(f"{document.get('kind')}/{read.name}")
        self.sources = read.sources or self.sources
        self.release_image = read.release_image or self.release_image

    def node(
        self, rules: tuple[MirrorRule, ...], problems: list[ConfigProblem]
    ) -> NodeImageConfig | None:
        if self.sources is None:
            return None
        digest_rules = [rule for rule in rules if rule.for_digests]
        node = node_image_config(
            self.sources, self.release_image, build_tables(rules), build_tables(digest_rules)
        )
        field = "spec.registrySources"
        if node.rejection is not None:
            scope = ProblemScope.CONFIG_REJECTED
            problems.append(ConfigProblem(IMAGE_ORIGIN, field, node.rejection, scope))
            return None
        for note in node.notes:
            problems.append(ConfigProblem(IMAGE_ORIGIN, field, note, ProblemScope.NOTE))
        if self.release_image is None and self.sources.blocked:
            note = (
                "no ClusterVersion given: blocked registries are applied without the "
                "exception the operator makes for the release payload"
            )
            problems.append(ConfigProblem(IMAGE_ORIGIN, field, note, ProblemScope.NOTE))
        return node


def mco_validation_problems(rules: Iterable[MirrorRule]) -> list[ConfigProblem]:
    """`validateRegistriesConfScopes`, reporting every violation instead of the first.

    The MCO walks IDMS entries, then ICSP entries (converted to IDMS), then ITMS; objects
    are taken in name order so that "the first" problem is stable. The policy of the
    first entry seen for a source is the one later entries conflict with.
    """
    order = {MirrorSetKind.IDMS: 0, MirrorSetKind.ICSP: 1, MirrorSetKind.ITMS: 2}
    ordered = sorted(
        enumerate(rules),
        key=lambda item: (order[item[1].origin.kind], item[1].origin.name, item[0]),
    )
    first_policy: dict[str, str] = {}
    problems: list[ConfigProblem] = []
    for _, rule in ordered:
        origin = str(rule.origin)
        field = f"spec.{rule.origin.kind.field}[source={rule.source}]"

        def reject(message: str, origin: str = origin, field: str = field) -> None:
            problems.append(ConfigProblem(origin, field, message, ProblemScope.CONFIG_REJECTED))

        if not valid_source(rule.source):
            reject(f"invalid format for source {_go_quote(rule.source)}")
            continue
        expected = first_policy.setdefault(rule.source, rule.policy)
        if expected != rule.policy:
            reject(
                "conflicting mirrorSourcePolicy is set for the same source "
                f"{_go_quote(rule.source)} in imagedigestmirrorsets, imagetagmirrorsets, "
                "or imagecontentsourcepolicies"
            )
            continue
        for mirror in rule.mirrors:
            if not valid_mirror(mirror):
                reject(f"invalid format for mirror {_go_quote(mirror)}")
                break
            if rule.never_contact_source and mirror == rule.source:
                reject(
                    "cannot set mirrorSourcePolicy: NeverContactSource if the source "
                    f"{_go_quote(rule.source)} is one of the mirrors"
                )
                break
    return problems


def _go_quote(text: str) -> str:
    """Go's %q: quotes, backslashes and control characters escaped (JSON escapes them alike)."""
    return json.dumps(text, ensure_ascii=False)
