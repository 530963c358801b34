"""Image/cluster → the three files the machine-config operator writes (its `syncImageConfig`).

From `spec.registrySources`, the release payload (ClusterVersion `status.desired.image`)
and the mirror tables, in the operator's order:

* `getValidBlockedAndAllowedRegistries`: a blocked scope that contains the payload
  repository is dropped from both lists (the operator only logs it) unless the payload
  still has a mirror outside every blocked scope; then it stays blocked in registries.conf,
  leaves policy.json (unless it names another repository too), and the payload
  repository gets its own `insecureAcceptAnything` scope there.
* registries.conf: `insecureRegistries` and the kept blocked scopes over the tables
  (`registry_scopes`); a wildcard mirror scope with a nested table is refused.
* policy.json (`updatePolicyJSON`), written only when something is allowed or blocked:
  default `reject` plus `insecureAcceptAnything` per allowed scope, or default
  `insecureAcceptAnything` plus `reject` per blocked scope, for transports `docker` and
  `atomic` (atomic without scopes of three or more `/`); allowed and blocked together
  are refused.
* the search drop-in `01-image-searchRegistries.conf`, only for a non-empty
  `containerRuntimeSearchRegistries`, which replaces the default search list.

Any refusal means the operator writes nothing: nodes keep their previous files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from webhook.core.image_config_schema import IMAGE_ORIGIN, RegistrySources
from webhook.core.image_reference import OPENSHIFT_SEARCH_REGISTRIES, parse_canonical
from webhook.core.mirror_index import MirrorIndex
from webhook.core.registries_conf import quote
from webhook.core.registry_scopes import (
    NestedScopeError,
    apply_registry_scopes,
    scope_is_nested_inside_scope,
)
from webhook.core.registry_tables import RegistryTable
from webhook.core.signature_policy import SignaturePolicy
from webhook.core.signature_requirements import Requirement, RequirementType
from webhook.errors import InvalidReferenceError

ACCEPT = Requirement.of(RequirementType.INSECURE_ACCEPT_ANYTHING)
REJECT = Requirement.of(RequirementType.REJECT)
# The policy.json of the operator's templates, before Image/cluster changes it.
BASE_POLICY = SignaturePolicy((ACCEPT,), {"docker-daemon": {"": (ACCEPT,)}})
ONLY_ONE = (
    "invalid images config: only one of AllowedRegistries or BlockedRegistries may be specified"
)
PAYLOAD_PARSE_ERROR = "error parsing reference of release image"


@dataclass(frozen=True)
class NodeImageConfig:
    """What nodes end up with; `rejection` set means the operator renders nothing."""

    tables: tuple[RegistryTable, ...]
    search_registries: tuple[str, ...]
    signature_policy: SignaturePolicy
    search_drop_in: str | None = None
    rejection: str | None = None
    notes: tuple[str, ...] = ()

    def policy_json(self) -> str:
        return _json_text(self.signature_policy)


def base_policy_json() -> str:
    """The policy.json of the operator's templates, which nodes have without Image/cluster."""
    return _json_text(BASE_POLICY)


def _json_text(policy: SignaturePolicy) -> str:
    return json.dumps(policy.to_json(), indent=2) + "\n"


@dataclass(frozen=True)
class _Lists:
    registries_blocked: tuple[str, ...]
    policy_blocked: tuple[str, ...]
    allowed: tuple[str, ...]
    skipped: tuple[str, ...]


def node_image_config(
    sources: RegistrySources,
    release_image: str | None,
    tables: Sequence[RegistryTable],
    digest_tables: Sequence[RegistryTable],
) -> NodeImageConfig:
    """`digest_tables`: the tables from IDMS/ICSP alone, which the operator consults to
    see whether the payload still has a usable mirror."""
    lists, rejection = _blocked_and_allowed(sources, release_image, digest_tables)
    search = sources.search or OPENSHIFT_SEARCH_REGISTRIES
    if rejection is None and sources.allowed and sources.blocked:
        rejection = ONLY_ONE
    only_payload = list(lists.allowed) == [_payload_name(release_image)]
    if rejection is None and lists.allowed and lists.policy_blocked and not only_payload:
        rejection = ONLY_ONE
    try:
        node_tables = apply_registry_scopes(
            tables, sources.insecure, lists.registries_blocked, IMAGE_ORIGIN
        )
    except NestedScopeError as error:
        node_tables, rejection = tuple(tables), rejection or str(error)
    notes = tuple(
        f"{scope!r} is not blocked: it holds the release payload "
        f"({release_image}), which the operator will not cut off without a mirror"
        for scope in lists.skipped
    )
    return NodeImageConfig(
        tables=node_tables,
        search_registries=tuple(search),
        signature_policy=_policy(lists),
        search_drop_in=_search_drop_in(sources.search),
        rejection=rejection,
        notes=notes,
    )


def _blocked_and_allowed(
    sources: RegistrySources, release_image: str | None, digest_tables: Sequence[RegistryTable]
) -> tuple[_Lists, str | None]:
    payload = _payload_name(release_image)
    if release_image is not None and payload is None:
        return _Lists(sources.blocked, sources.blocked, sources.allowed, ()), PAYLOAD_PARSE_ERROR
    registries_blocked: list[str] = []
    policy_blocked: list[str] = []
    allowed: list[str] = []
    skipped: list[str] = []
    for scope in sources.blocked:
        if payload is None or not scope_is_nested_inside_scope(payload, scope):
            registries_blocked.append(scope)
            policy_blocked.append(scope)
        elif not _payload_has_unblocked_mirror(release_image or "", sources, digest_tables):
            skipped.append(scope)
        else:
            registries_blocked.append(scope)
            if scope != payload:
                policy_blocked.append(scope)
            allowed.append(payload)
    allowed.extend(sources.allowed)
    lists = _Lists(tuple(registries_blocked), tuple(policy_blocked), tuple(allowed), tuple(skipped))
    return lists, None


def _payload_has_unblocked_mirror(
    release_image: str, sources: RegistrySources, digest_tables: Sequence[RegistryTable]
) -> bool:
    """`payloadRepoHasUnblockedMirror`: some pull source of the payload lies outside every
    blocked scope (the source itself counts, as upstream's loop includes it)."""
    try:
        tables = apply_registry_scopes(digest_tables, sources.insecure, sources.blocked)
    except NestedScopeError:
        return False
    plan = MirrorIndex(tables).candidates(parse_canonical(release_image))
    names = [parse_canonical(candidate.pull_spec).name for candidate in plan.candidates]
    return any(
        not any(scope_is_nested_inside_scope(name, scope) for scope in sources.blocked)
        for name in names
    )


def _payload_name(release_image: str | None) -> str | None:
    if release_image is None:
        return None
    try:
        return parse_canonical(release_image).name
    except InvalidReferenceError:
        return None


def _policy(lists: _Lists) -> SignaturePolicy:
    if not lists.allowed and not lists.policy_blocked:
        return SignaturePolicy(BASE_POLICY.default, BASE_POLICY.transports, IMAGE_ORIGIN)
    scopes: dict[str, tuple[Requirement, ...]] = {}
    default = BASE_POLICY.default
    if lists.allowed:
        default = (REJECT,)
        scopes.update({scope: (ACCEPT,) for scope in lists.allowed})
    if lists.policy_blocked:
        default = (ACCEPT,)
        scopes.update({scope: (REJECT,) for scope in lists.policy_blocked})
    atomic = {scope: value for scope, value in scopes.items() if scope.count("/") < 3}
    transports = {**BASE_POLICY.transports, "docker": scopes, "atomic": atomic}
    return SignaturePolicy(default, transports, IMAGE_ORIGIN)


def _search_drop_in(search: Sequence[str]) -> str | None:
    if not search:
        return None
    # The operator encodes a whole V2RegistriesConf, so the empty mode comes along.
    registries = ", ".join(quote(registry) for registry in search)
    return f'unqualified-search-registries = [{registries}]\nshort-name-mode = ""\n'
