"""Every image a Pod or a workload's pod template names, each with its JSON pointer.

The policy reports images by container and the patch rewrites them in place, so each image
comes with an RFC 6901 pointer (https://www.rfc-editor.org/rfc/rfc6901) into the object as
the API server sent it. Workload templates are covered as well as Pods so that users see
the finding at `kubectl apply` and a pinned digest is the same for every replica
(DESIGN.md, "Workloads, not only pods").

The object is untrusted AdmissionReview content. The API server has decoded it into typed
objects first, but the webhook must not rely on that: a value of the wrong shape counts as
absent instead of raising, and nothing here recurses, so no nesting depth can exhaust the
stack. A container whose image is missing or not a string still yields a site (with
`image=None`), so that the policy sees it and can deny it rather than let it pass unseen.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class ContainerType(Enum):
    """Where in a pod spec an image stands; the values are the API's singular field names."""

    CONTAINER = "container"
    INIT_CONTAINER = "initContainer"
    EPHEMERAL_CONTAINER = "ephemeralContainer"
    IMAGE_VOLUME = "imageVolume"


_LABELS = {
    ContainerType.CONTAINER: "container",
    ContainerType.INIT_CONTAINER: "init container",
    ContainerType.EPHEMERAL_CONTAINER: "ephemeral container",
    ContainerType.IMAGE_VOLUME: "image volume",
}


@dataclass(frozen=True, slots=True)
class ImageSite:
    """One place an image stands: what the policy judges and what the patch rewrites."""

    pointer: str
    container: str
    """Container name, or volume name for an image volume; "" when missing or not a string."""
    container_type: ContainerType
    image: str | None
    """None when the field is missing or not a string, so the policy can report it."""

    def describe(self) -> str:
        """The name is JSON-quoted because it is untrusted: no newline reaches a message."""
        return f"{_LABELS[self.container_type]} {_quoted(self.container)}"


def _quoted(name: str) -> str:
    """Each finding is described in its warning and its log line, and names repeat from
    pod to pod: a name of a valid length is quoted once."""
    return _quoted_name(name) if len(name) <= NAME_LENGTH_MAX else json.dumps(name)


@functools.lru_cache(maxsize=4096)
def _quoted_name(name: str) -> str:
    return json.dumps(name)


NAME_LENGTH_MAX = 253
"""The longest name the API server accepts (a DNS subdomain; container names: 63)."""

_TEMPLATE = ("spec", "template", "spec")
_POD_SPEC_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec",),
    ("", "ReplicationController"): _TEMPLATE,
    ("apps", "Deployment"): _TEMPLATE,
    ("apps", "ReplicaSet"): _TEMPLATE,
    ("apps", "StatefulSet"): _TEMPLATE,
    ("apps", "DaemonSet"): _TEMPLATE,
    ("batch", "Job"): _TEMPLATE,
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
    ("apps.openshift.io", "DeploymentConfig"): _TEMPLATE,
}
SUPPORTED_KINDS: frozenset[tuple[str, str]] = frozenset(_POD_SPEC_PATHS)

# The order the kubelet starts them in, so findings read in the order a pod would fail.
_CONTAINER_LISTS = (
    ("initContainers", ContainerType.INIT_CONTAINER),
    ("containers", ContainerType.CONTAINER),
    ("ephemeralContainers", ContainerType.EPHEMERAL_CONTAINER),
)


def pointer(*tokens: str | int) -> str:
    """RFC 6901 §3 escaping; "~" goes first so the "~1" written for "/" is not escaped again."""
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in tokens)


def pod_spec_pointer(group: str, kind: str) -> str | None:
    """Where the pod spec sits in an object of this kind; None when the webhook ignores it."""
    path = _pod_spec_path(group, kind)
    return None if path is None else pointer(*path)


def image_sites(group: str, kind: str, obj: Any) -> tuple[ImageSite, ...]:
    """Containers first (init, regular, ephemeral), then image volumes, each in list order."""
    path = _pod_spec_path(group, kind)
    if path is None:
        return ()
    spec, base = _lookup(obj, path), pointer(*path)
    return (*_container_sites(spec, base), *_volume_sites(spec, base))


def changed_sites(group: str, kind: str, new: Any, old: Any) -> tuple[ImageSite, ...]:
    """The sites of `new` whose image is not the one the same-named entry of the same list
    (containers, initContainers, ephemeralContainers, volumes) had in `old`.

    An UPDATE that changed no image (a label edit, a scale) must yield nothing: mutating it
    is what caused ReplicaSet storms and GitOps drift elsewhere (DESIGN.md). And on the
    `pods/ephemeralcontainers` subresource only the added container is the user's doing.
    Entries are matched by name, not position: a container inserted before another must
    not make the other look new (and be re-judged, or re-pinned).
    """
    sites = image_sites(group, kind, new)
    if not isinstance(old, Mapping):
        return sites
    before: dict[tuple[ContainerType, str], set[str | None]] = {}
    for site in image_sites(group, kind, old):
        before.setdefault((site.container_type, site.container), set()).add(site.image)
    return tuple(
        site
        for site in sites
        if site.image not in before.get((site.container_type, site.container), ())
    )


def owned_by_controller(obj: Any) -> bool:
    """A controller puts its template back, so rewriting what it owns only starts a fight.

    Only `controller: true` counts, as in the API's own `GetControllerOf`; a plain owner
    reference (garbage collection only) does not reconcile anything.
    """
    references = _lookup(obj, ("metadata", "ownerReferences"))
    return isinstance(references, list) and any(
        isinstance(reference, Mapping) and reference.get("controller") is True
        for reference in references
    )


def pull_secret_names(group: str, kind: str, obj: Any) -> tuple[str, ...]:
    """`imagePullSecrets[].name` of the pod spec (for a Pod, the ServiceAccount's secrets
    are already in it: the API server's ServiceAccount admission adds them first)."""
    path = _pod_spec_path(group, kind)
    if path is None:
        return ()
    names = (
        _text(_lookup(entry, ("name",)))
        for _, entry in _entries(_lookup(obj, path), "imagePullSecrets")
    )
    return tuple(dict.fromkeys(name for name in names if name))


def _pod_spec_path(group: object, kind: object) -> tuple[str, ...] | None:
    if not isinstance(group, str) or not isinstance(kind, str):
        return None  # an unhashable "kind" from a malformed review must not raise
    return _POD_SPEC_PATHS.get((group, kind))


def _lookup(value: Any, path: Iterable[str]) -> Any:
    """The value at `path`, or None as soon as a step is not a mapping."""
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _entries(spec: Any, field: str) -> Iterator[tuple[int, Any]]:
    """A list field's entries by index; null, a map or a string in its place has none."""
    items = _lookup(spec, (field,))
    return enumerate(items) if isinstance(items, list) else iter(())


_NOTHING: Mapping[str, Any] = {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _container_sites(spec: Any, base: str) -> Iterator[ImageSite]:
    """Every entry is a site, even a non-object one: its missing image must be reported.
    (The list names need no RFC 6901 escaping; this runs for every admission request.)"""
    for field, container_type in _CONTAINER_LISTS:
        prefix = f"{base}/{field}/"
        for index, container in _entries(spec, field):
            fields = container if isinstance(container, Mapping) else _NOTHING
            yield ImageSite(
                pointer=f"{prefix}{index}/image",
                container=_text(fields.get("name")) or "",
                container_type=container_type,
                image=_text(fields.get("image")),
            )


def _volume_sites(spec: Any, base: str) -> Iterator[ImageSite]:
    """Image volumes (Kubernetes 1.31+); other volume types carry no image and are skipped.

    A volume whose `image` source is present but malformed is still a site, to be denied.
    """
    for index, volume in _entries(spec, "volumes"):
        source = _lookup(volume, ("image",))
        if source is None:
            continue
        yield ImageSite(
            pointer=base + pointer("volumes", index, "image", "reference"),
            container=_text(_lookup(volume, ("name",))) or "",
            container_type=ContainerType.IMAGE_VOLUME,
            image=_text(_lookup(source, ("reference",))),
        )
