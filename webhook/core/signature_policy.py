"""The node's `/etc/containers/policy.json` and the verdict it gives a logical reference.

Interface (shared by the Image/cluster renderer and by readers of node files):

* `parse_policy_text(text)` / `parse_policy(document)` → `SignaturePolicy`, or a
  `SignaturePolicyError` naming the key path, for anything containers/image refuses
  (`signature/policy_config.go`: unknown or duplicate keys, no `default`, an empty
  requirement list, an unknown requirement type, key material given in none or several ways).
* `SignaturePolicy.verdict(reference, transport="docker")` → `PolicyVerdict`: which scope
  decided (`requirementsForImageRef`: the exact reference, then the repository and each
  parent namespace, then `host[:port]`, then `*.domain` wildcards of the host without its
  port, then the transport's `""`, then `default`) and the outcome of `IsRunningImageAllowed`
  as far as it can be known without the image: any `reject` (or `signedBaseLayer`, which
  upstream never implemented) rejects; otherwise `signedBy`/`sigstoreSigned` mean "needs
  signature verification" — never a denial by itself; otherwise accepted.
* `SignaturePolicy.to_json()` prints the document back, for `--policy-json`.

CRI-O evaluates the policy on the reference the pod *names* (the `docker` transport's
logical reference), after the manifest came from whichever mirror served it: a mirror's
own name is never judged (see the README's image.config section).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from webhook.core.image_reference import ImageReference
from webhook.core.signature_requirements import Requirement, RequirementType, parse_requirements
from webhook.errors import SignaturePolicyError

DOCKER_TRANSPORT = "docker"

Scopes = Mapping[str, tuple[Requirement, ...]]


class PolicyOutcome(Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NEEDS_SIGNATURE = "needs-signature"


@dataclass(frozen=True, slots=True)
class PolicyVerdict:
    outcome: PolicyOutcome
    transport: str
    scope: str | None
    """The scope key that decided; `""` for the transport default, None for `default`."""
    requirements: tuple[RequirementType, ...]

    @property
    def where(self) -> str:
        if self.scope is None:
            return "default"
        return f"transports.{self.transport}[{json.dumps(self.scope)}]"

    def describe(self) -> str:
        """`accepted`, or the outcome and why, as `explain --json` prints it."""
        if self.outcome is PolicyOutcome.ACCEPTED:
            return "accepted"
        wanted = ", ".join(sorted({r.value for r in self.requirements if _decisive(r)}))
        label = "rejected" if self.outcome is PolicyOutcome.REJECTED else "needs signature"
        return f"{label}: policy.json {self.where} requires {wanted}"


def _decisive(requirement: RequirementType) -> bool:
    return requirement is not RequirementType.INSECURE_ACCEPT_ANYTHING


@dataclass(frozen=True)
class SignaturePolicy:
    default: tuple[Requirement, ...]
    transports: Mapping[str, Scopes]
    origin: str = "policy.json"
    """Who wrote it, for messages: a node file, or `Image/cluster` through the operator."""

    def requirements_for(
        self, reference: ImageReference, transport: str = DOCKER_TRANSPORT
    ) -> tuple[str | None, tuple[Requirement, ...]]:
        """`requirementsForImageRef`: the first scope that has an entry, and its list."""
        scopes = self.transports.get(transport)
        if scopes is not None:
            for scope in (policy_identity(reference), *policy_namespaces(reference), ""):
                if scope in scopes:
                    return scope, scopes[scope]
        return None, self.default

    def verdict(
        self, reference: ImageReference, transport: str = DOCKER_TRANSPORT
    ) -> PolicyVerdict:
        scope, requirements = self.requirements_for(reference, transport)
        types = tuple(requirement.type for requirement in requirements)
        if any(t in (RequirementType.REJECT, RequirementType.SIGNED_BASE_LAYER) for t in types):
            outcome = PolicyOutcome.REJECTED
        elif any(t.needs_signature for t in types):
            outcome = PolicyOutcome.NEEDS_SIGNATURE
        else:
            outcome = PolicyOutcome.ACCEPTED
        return PolicyVerdict(outcome, transport, scope, types)

    def to_json(self) -> dict[str, Any]:
        return {
            "default": [requirement.to_json() for requirement in self.default],
            "transports": {
                transport: {
                    scope: [requirement.to_json() for requirement in requirements]
                    for scope, requirements in scopes.items()
                }
                for transport, scopes in self.transports.items()
            },
        }


def policy_identity(reference: ImageReference) -> str:
    """`PolicyConfigurationIdentity`: `name:tag` or `name@digest` (CRI-O drops a tag
    that comes with a digest; a bare name means `:latest`)."""
    return str(reference.with_default_tag().without_tag_when_digested())


def policy_namespaces(reference: ImageReference) -> list[str]:
    """`DockerReferenceNamespaces`: the repository, each parent, the host[:port], then
    `*.`-wildcards of the host without its port, most specific first."""
    name = reference.name
    namespaces = [name]
    while "/" in name:
        name = name.rsplit("/", 1)[0]
        namespaces.append(name)
    host = name.split(":", 1)[0]
    while "." in host:
        host = host.split(".", 1)[1]
        namespaces.append(f"*.{host}")
    return namespaces


def parse_policy_text(text: str) -> SignaturePolicy:
    """A policy.json file's text; duplicate keys are refused, as upstream does."""
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as error:
        raise SignaturePolicyError(f"policy.json: not JSON: {error}") from None
    return parse_policy(document)


def parse_policy(document: Any) -> SignaturePolicy:
    """A policy.json document already decoded (`Policy.UnmarshalJSON`)."""
    if not isinstance(document, Mapping):
        raise SignaturePolicyError("policy.json: must be a JSON object")
    for key in document:
        if key not in ("default", "transports"):
            raise SignaturePolicyError(f"policy.json: Unknown key {json.dumps(key)}")
    if document.get("default") is None:
        raise SignaturePolicyError("policy.json: Default policy is missing")
    default = parse_requirements(document["default"], "policy.json default")
    transports_value = document.get("transports") or {}
    if not isinstance(transports_value, Mapping):
        raise SignaturePolicyError("policy.json transports: must be an object")
    transports: dict[str, Scopes] = {}
    for transport, scopes in transports_value.items():
        where = f"policy.json transports.{transport}"
        if not isinstance(scopes, Mapping):
            raise SignaturePolicyError(f"{where}: must be an object of scopes")
        transports[transport] = {
            scope: parse_requirements(value, f"{where}[{json.dumps(scope)}]")
            for scope, value in scopes.items()
        }
    return SignaturePolicy(default, transports)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise SignaturePolicyError(f"policy.json: Duplicate key {json.dumps(key)}")
        result[key] = value
    return result
