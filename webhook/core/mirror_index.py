"""`MirrorIndex`: what CRI-O would try for a reference, given the operator's tables (spec §4).

Matching is containers/image's `FindRegistry` / `PullSourcesFromReference` /
`rewriteReference` plus the per-attempt `blocked` check of `newDockerClient`. Instead of
scanning every table as upstream does, the index hashes tables by prefix and asks only
for the prefixes a name can match (each `/` or `:` boundary of the name, each `.`
suffix of its host), so a lookup costs the length of the name, not the number of rules.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar, cast

from webhook.core.image_reference import (
    INPUT_LENGTH_MAX,
    NO_ALIASES,
    OPENSHIFT_SEARCH_REGISTRIES,
    ImageReference,
    parse_canonical,
    runtime_image,
)
from webhook.core.node_registries import NodeRegistries
from webhook.core.registries_conf import render
from webhook.core.registry_tables import RegistryTable, build_tables
from webhook.core.signature_policy import PolicyOutcome, PolicyVerdict, SignaturePolicy
from webhook.core.vocabulary import NODE_FILES, OBJECTS, Vocabulary
from webhook.errors import InvalidReferenceError

if TYPE_CHECKING:  # mirror_sets builds the Image/cluster tables with this index
    from webhook.core.mirror_sets import MirrorSetConfig

PLAN_MEMO_MAX = 4096
_NOT_DERIVED = object()
T = TypeVar("T")


class Role(Enum):
    MIRROR = "mirror"
    SOURCE = "source"


@dataclass(frozen=True, slots=True)
class PullCandidate:
    pull_spec: str
    role: Role
    blocked: bool
    origins: tuple[str, ...]
    """Objects (`Kind/name`) that put this candidate here, or that blocked it."""
    insecure: bool = False
    """The node skips TLS verification (and may fall back to HTTP) for this attempt."""


@dataclass(frozen=True, slots=True)
class PullPlan:
    """The attempts for one fully-qualified reference, in the order the runtime makes them."""

    reference: ImageReference
    matched_prefix: str | None
    candidates: tuple[PullCandidate, ...]
    error: str | None = None
    """Set when building the list fails: the pull fails before contacting anything."""
    policy: PolicyVerdict | None = None
    """The node's signature policy on this (logical) reference; None without a policy."""

    @property
    def reachable(self) -> tuple[PullCandidate, ...]:
        """Candidates the runtime will actually contact."""
        return () if self.error else tuple(c for c in self.candidates if not c.blocked)

    @property
    def mirrors(self) -> tuple[PullCandidate, ...]:
        return tuple(c for c in self.candidates if c.role is Role.MIRROR)


@dataclass(frozen=True, slots=True)
class ImagePlan:
    """What the runtime does with one pod `image` string: one plan per short-name expansion."""

    image: str
    short_name: bool
    plans: tuple[PullPlan, ...]
    parse_error: str | None = None
    alias: str | None = None
    """The node's short-name alias that gave the only plan, when one did."""


class MirrorIndex:
    """Immutable after construction, so a new one can be swapped in atomically.

    Everything a node decides a pull with can be fed in, whether it comes from cluster
    objects or from a node's own files: the `[[registry]]` tables (with `blocked` and
    `insecure`), the short-name search list (`unqualified-search-registries`; Image/cluster's
    `containerRuntimeSearchRegistries` replaces the default) and the signature policy
    (policy.json; None means none was given, and nothing is judged by it).
    """

    def __init__(
        self,
        tables: Iterable[RegistryTable],
        search_registries: Sequence[str] = OPENSHIFT_SEARCH_REGISTRIES,
        config: MirrorSetConfig | None = None,
        aliases: Mapping[str, str] = NO_ALIASES,
        vocabulary: Vocabulary = OBJECTS,
        signature_policy: SignaturePolicy | None = None,
    ) -> None:
        self.tables = tuple(tables)
        self.search_registries = tuple(search_registries)
        self.config = config
        self.aliases = MappingProxyType(dict(aliases))
        self.vocabulary = vocabulary
        """How findings name the rules: objects, or the node's files."""
        self.signature_policy = signature_policy
        self._plans: dict[str, ImagePlan] = {}
        self._derived: dict[tuple[Hashable, ...], object] = {}
        self._exact = {t.prefix: t for t in self.tables if not t.wildcard}
        self._wildcard = {t.prefix[1:]: t for t in self.tables if t.wildcard}
        # Where the mirror sets say images are served: the cluster reaches these by design.
        # A table's own source listed among its mirrors (spec V20, V28) is no mirror.
        self._mirror_scopes = frozenset(
            mirror.location
            for table in self.tables
            for mirror in table.mirrors
            if mirror.location != table.location
        )
        # containers/image skips TLS checks for a mirror attempt by the mirror entry's own
        # `insecure` (`pullSource.Endpoint.Insecure`), whatever table its location matches.
        self._insecure_mirror_scopes = frozenset(
            mirror.location
            for table in self.tables
            for mirror in table.mirrors
            if mirror.insecure and mirror.location != table.location
        )

    @classmethod
    def from_config(
        cls,
        config: MirrorSetConfig,
        search_registries: Sequence[str] | None = None,
    ) -> MirrorIndex:
        """The index nodes would use: with Image/cluster's tables, search list and policy
        when the configuration has an Image the operator accepts."""
        node = config.node
        if node is None:
            search = OPENSHIFT_SEARCH_REGISTRIES if search_registries is None else search_registries
            return cls(build_tables(config.rules), search, config)
        search = node.search_registries if search_registries is None else search_registries
        return cls(node.tables, search, config, signature_policy=node.signature_policy)

    @classmethod
    def from_node_files(cls, registries: NodeRegistries) -> MirrorIndex:
        """The index of a node's own registries.conf and drop-ins (MicroShift, CRI-O)."""
        return cls(
            registries.tables,
            registries.search_registries,
            aliases=registries.aliases,
            vocabulary=NODE_FILES,
            signature_policy=registries.signature_policy,
        )

    def __len__(self) -> int:
        return len(self.tables)

    def on_mirror(self, name: str) -> bool:
        """Whether repository `name` lies inside a location the mirror sets name as a mirror
        (an image pushed to the mirror and named there directly)."""
        return _inside(name, self._mirror_scopes)

    def serves(self, plan: PullPlan) -> bool:
        """Whether the pull works in a disconnected cluster: the node tries a mirror that is
        not blocked, or the image is named inside a mirror location and reachable there."""
        reachable = plan.reachable
        if any(candidate.role is Role.MIRROR for candidate in reachable):
            return True
        return bool(reachable) and self.on_mirror(plan.reference.name)

    def find_table(self, name: str) -> RegistryTable | None:
        """The single table containers/image uses for repository `name`: the longest prefix
        that matches, ties going to the smaller prefix in byte order (spec §4.1)."""
        best = self._longest_exact(name)
        wildcard = self._longest_wildcard(name)
        if wildcard is not None and (
            best is None
            or len(wildcard.prefix) > len(best.prefix)
            or (len(wildcard.prefix) == len(best.prefix) and wildcard.prefix < best.prefix)
        ):
            best = wildcard
        return best

    def candidates(self, reference: ImageReference) -> PullPlan:
        """Ordered pull candidates for a fully-qualified, normalized reference."""
        table = self.find_table(reference.name)
        policy = self.policy_verdict(reference)
        if table is None:
            direct = PullCandidate(str(reference), Role.SOURCE, False, ())
            return PullPlan(reference, None, (direct,), None, policy)
        wanted = [m for m in table.mirrors if m.serves(reference.by_digest)]
        text = str(reference)
        candidates = []
        try:
            for mirror in wanted:
                spec = _rewrite(text, table.prefix, mirror.location)
                name = parse_canonical(spec).name
                # The source can come out of the merge among the mirrors (spec V20): it is
                # still the source, and must not count as a mirror serving the image.
                role = Role.SOURCE if mirror.location == table.location else Role.MIRROR
                # TLS is the endpoint's own setting: containers/image overrides what the
                # attempt's table says with `pullSource.Endpoint.Insecure`.
                insecure = mirror.insecure
                candidates.append(
                    PullCandidate(spec, role, self._blocked(name), mirror.origins, insecure)
                )
            spec = _rewrite(text, table.prefix, table.location)
            # Blocked is asked of the attempt's own table: the same one, unless a node file
            # gives the table a `location` other than its prefix.
            source_table = self.find_table(parse_canonical(spec).name)
        except InvalidReferenceError as error:
            error_text = f"rewriting reference: {error.reason}"
            return PullPlan(reference, table.prefix, (), error_text, policy)
        blocked = source_table is not None and source_table.blocked
        blocked_by = source_table.blocked_by if source_table is not None and blocked else ()
        insecure = table.insecure  # the primary endpoint is the matched table's own
        candidates.append(PullCandidate(spec, Role.SOURCE, blocked, blocked_by, insecure))
        return PullPlan(reference, table.prefix, tuple(candidates), None, policy)

    def tag_lookup_specs(
        self, reference: ImageReference, include_source: bool = False
    ) -> tuple[str, ...]:
        """Where the digest of a tag may be asked for, in order: the table's tag mirrors, then
        its digest mirrors (same repository path, asked by tag), then the source when
        `include_source` and it is not blocked. Only hosts the mirror sets name; never a
        blocked scope; nothing for a tag whose name no table matches (no SSRF by pod spec)."""
        table = self.find_table(reference.name)
        if reference.tag is None or reference.by_digest:
            return ()
        text = str(reference)
        if table is None:
            # An image named directly on a mirror registry: that host is named, so it may be asked.
            return (text,) if self.on_mirror(reference.name) else ()
        ordered = sorted(table.mirrors, key=lambda mirror: mirror.for_digests)
        specs = [_rewrite(text, table.prefix, mirror.location) for mirror in ordered]
        # A blocked source is dropped below, as every blocked spec; a source the node's
        # policy rejects is never asked either.
        if include_source and not self._policy_rejects(reference):
            specs.append(_rewrite(text, table.prefix, table.location))
        usable = []
        for spec in dict.fromkeys(specs):
            try:
                name = parse_canonical(spec).name
            except InvalidReferenceError:
                continue
            if not self._blocked(name):
                usable.append(spec)
        return tuple(usable)

    def explain(self, image: str) -> ImagePlan:
        """From a pod `image` string as written to every attempt the node would make.

        Memoized: the index never changes, and the same few images come back in every
        pod of a Deployment. The memo is dropped whole when full (no LRU bookkeeping on
        the hot path); a dict read is atomic, so threads can share it."""
        plan = self._plans.get(image)
        if plan is None:
            plan = self._explain(image)
            if len(image) <= INPUT_LENGTH_MAX:  # never keep what an attacker made huge
                if len(self._plans) >= PLAN_MEMO_MAX:
                    self._plans.clear()
                self._plans[image] = plan
        return plan

    def derived(
        self, key: tuple[Hashable, ...], compute: Callable[..., T], *arguments: object
    ) -> T:
        """A value other modules derive from this index and an image (`key` names both,
        and any settings it depends on), memoized like `explain`: the index never changes,
        so neither does the value. `compute(*arguments)` makes it on a miss (arguments, not
        a closure: a hit then allocates nothing)."""
        value = self._derived.get(key, _NOT_DERIVED)  # one hash of the key, not two
        if value is not _NOT_DERIVED:
            return cast(T, value)
        value = compute(*arguments)
        if sum(len(part) for part in key if isinstance(part, str)) <= INPUT_LENGTH_MAX + 64:
            if len(self._derived) >= PLAN_MEMO_MAX:
                self._derived.clear()
            self._derived[key] = value
        return value

    def _explain(self, image: str) -> ImagePlan:
        try:
            runtime = runtime_image(image, self.search_registries, self.aliases)
        except InvalidReferenceError as error:
            return ImagePlan(image, False, (), str(error))
        plans = tuple(self.candidates(reference) for reference in runtime.references)
        return ImagePlan(image, runtime.short_name, plans, alias=runtime.alias)

    def policy_verdict(self, reference: ImageReference) -> PolicyVerdict | None:
        """What the node's policy.json says of the *logical* reference (never a mirror's
        name: containers/image judges `dockerImageSource.Reference()`); None without one."""
        if self.signature_policy is None:
            return None
        return self.signature_policy.verdict(reference)

    def registries_conf(self, digest_only_style: str = "pull-from-mirror") -> str:
        return render(self.tables, self.search_registries, digest_only_style)

    def _policy_rejects(self, reference: ImageReference) -> bool:
        verdict = self.policy_verdict(reference)
        return verdict is not None and verdict.outcome is PolicyOutcome.REJECTED

    def insecure(self, name: str) -> bool:
        """Whether the node skips TLS verification for repository `name`: its own table says
        `insecure = true` (containers/image `newDockerClient`), or it lies in a mirror
        location whose `[[registry.mirror]]` entry does (a mirror attempt uses the entry's
        flag). A location marked insecure under one source is then insecure for every
        lookup of it: the webhook asks one client per repository, not per attempt."""
        table = self.find_table(name)
        if table is not None and table.insecure:
            return True
        return bool(self._insecure_mirror_scopes) and _inside(name, self._insecure_mirror_scopes)

    def _blocked(self, name: str) -> bool:
        """The check made before each attempt, against that attempt's own table (spec §4.3)."""
        table = self.find_table(name)
        return table is not None and table.blocked

    def matching_tables(self, name: str) -> list[RegistryTable]:
        """Every table whose prefix matches `name`, the one used first: the others are
        shadowed, which is what surprises people (spec §4.1, V48, V52, V57)."""
        tables = [*self._exact_matches(name), *self._wildcard_matches(name)]
        return sorted(tables, key=lambda table: (-len(table.prefix), table.prefix))

    def _longest_exact(self, name: str) -> RegistryTable | None:
        return next(self._exact_matches(name), None)

    def _longest_wildcard(self, name: str) -> RegistryTable | None:
        return next(self._wildcard_matches(name), None) if self._wildcard else None

    def _exact_matches(self, name: str) -> Iterator[RegistryTable]:
        """Longest first: the whole name, then each prefix ending before a `/` or `:`."""
        if name in self._exact:
            yield self._exact[name]
        for end in range(len(name) - 1, 0, -1):
            if name[end] in "/:" and name[:end] in self._exact:
                yield self._exact[name[:end]]

    def _wildcard_matches(self, name: str) -> Iterator[RegistryTable]:
        """Longest first: each `.domain` suffix of the host that upstream's matcher accepts."""
        host_end = len(name)
        for separator in "/:":
            position = name.find(separator)
            if position != -1:
                host_end = min(host_end, position)
        host = name[:host_end]
        for start, char in enumerate(host):
            suffix = host[start:]
            if char == "." and suffix in self._wildcard and _subdomain_match(name, suffix) != -1:
                yield self._wildcard[suffix]


def _rewrite(reference: str, prefix: str, location: str) -> str:
    """`Endpoint.rewriteReference`: swap the matched prefix for the endpoint's location."""
    if location == "":
        return reference
    return location + reference[_matching_prefix_length(reference, prefix) :]


def _matching_prefix_length(reference: str, prefix: str) -> int:
    """containers/image `refMatchingPrefix`; -1 when `prefix` does not match."""
    if prefix.startswith("*."):
        return _subdomain_match(reference, prefix[1:])
    if reference == prefix:
        return len(prefix)
    if reference.startswith(prefix) and reference[len(prefix) : len(prefix) + 1] in (":", "/", "@"):
        return len(prefix)
    return -1


def _subdomain_match(reference: str, suffix: str) -> int:
    """`refMatchingSubdomainPrefix`: only the *first* occurrence of `.domain` counts."""
    index = reference.find(suffix)
    if index == -1 or "/" in reference[:index]:
        return -1
    end = index + len(suffix)
    if end == len(reference) or reference[end] in ":/@":
        return end
    return -1


@dataclass(frozen=True, slots=True)
class IndexState:
    """The index in use and where it stands: for readiness, metrics and cache flushes."""

    index: MirrorIndex
    generation: int
    loaded_at: float
    rules: int = 0


def _inside(name: str, scopes: frozenset[str]) -> bool:
    """`name` is one of `scopes` or a repository below one (a `/` boundary)."""
    if name in scopes:
        return True
    return any(name[end] == "/" and name[:end] in scopes for end in range(1, len(name)))
