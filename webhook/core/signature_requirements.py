"""One policy.json requirement, checked the way containers/image unmarshals it.

containers/image (`signature/policy_config.go`) refuses unknown keys, a requirement list
that is empty, an unknown `type`, and key material given in none or several ways. A
node whose policy.json breaks any of these pulls nothing, so each is an error here too,
with the upstream wording. Key files and certificates are not read: whether a signature
verifies is a question only the node can answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from webhook.errors import SignaturePolicyError


class RequirementType(Enum):
    INSECURE_ACCEPT_ANYTHING = "insecureAcceptAnything"
    REJECT = "reject"
    SIGNED_BY = "signedBy"
    SIGNED_BASE_LAYER = "signedBaseLayer"
    SIGSTORE_SIGNED = "sigstoreSigned"

    @property
    def needs_signature(self) -> bool:
        return self in (RequirementType.SIGNED_BY, RequirementType.SIGSTORE_SIGNED)


@dataclass(frozen=True, slots=True)
class Requirement:
    """One element of a requirement list; `document` is its JSON, kept to print it back."""

    type: RequirementType
    document: str

    def to_json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.document)
        return loaded

    @classmethod
    def of(cls, type_: RequirementType) -> Requirement:
        return cls(type_, json.dumps({"type": type_.value}))


_SIGNED_BY_KEYS = ("keyPath", "keyPaths", "keyData")
_SIGSTORE_KEYS = ("keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki")
_ALLOWED = {
    RequirementType.INSECURE_ACCEPT_ANYTHING: {"type"},
    RequirementType.REJECT: {"type"},
    RequirementType.SIGNED_BY: {"type", "keyType", "signedIdentity", *_SIGNED_BY_KEYS},
    RequirementType.SIGNED_BASE_LAYER: {"type", "baseLayerIdentity"},
    RequirementType.SIGSTORE_SIGNED: {
        "type",
        "signedIdentity",
        "rekorPublicKeyPath",
        "rekorPublicKeyPaths",
        "rekorPublicKeyData",
        "rekorPublicKeyDatas",
        *_SIGSTORE_KEYS,
    },
}
_KEY_TYPES = ("GPGKeys", "signedByGPGKeys", "X509Certificates", "signedByX509CAs")
_IDENTITY_TYPES = (
    "matchExact",
    "matchRepoDigestOrExact",
    "matchRepository",
    "exactReference",
    "exactRepository",
    "remapIdentity",
)


def parse_requirements(value: Any, where: str) -> tuple[Requirement, ...]:
    """A requirement list (`PolicyRequirements.UnmarshalJSON`)."""
    if not isinstance(value, list):
        raise SignaturePolicyError(f"{where}: must be a list of requirements")
    if not value:
        raise SignaturePolicyError(
            f"{where}: List of verification policy requirements must not be empty"
        )
    return tuple(_requirement(item, f"{where}[{index}]") for index, item in enumerate(value))


def _requirement(value: Any, where: str) -> Requirement:
    if not isinstance(value, Mapping):
        raise SignaturePolicyError(f'{where}: must be an object with a "type"')
    type_name = value.get("type")
    try:
        type_ = RequirementType(type_name)
    except ValueError:
        raise SignaturePolicyError(
            f"{where}: Unknown policy requirement type {json.dumps(type_name)}"
        ) from None
    for key in value:
        if key not in _ALLOWED[type_]:
            raise SignaturePolicyError(f"{where}: Unknown key {json.dumps(key)}")
    if type_ is RequirementType.SIGNED_BY:
        if value.get("keyType") not in _KEY_TYPES:
            raise SignaturePolicyError(
                f"{where}.keyType: Unrecognized keyType value {json.dumps(value.get('keyType'))}"
            )
        _exactly_one(value, _SIGNED_BY_KEYS, where)
    elif type_ is RequirementType.SIGSTORE_SIGNED:
        _exactly_one(value, _SIGSTORE_KEYS, where)
    elif type_ is RequirementType.SIGNED_BASE_LAYER and "baseLayerIdentity" not in value:
        raise SignaturePolicyError(f"{where}: baseLayerIdentity not specified")
    for key in ("signedIdentity", "baseLayerIdentity"):
        if key in value:
            _identity(value[key], f"{where}.{key}")
    return Requirement(type_, json.dumps(dict(value), sort_keys=True))


def _exactly_one(value: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    present = [key for key in keys if key in value]
    if len(present) != 1:
        names = ", ".join(keys[:-1]) + f" and {keys[-1]}"
        found = "none of them present" if not present else "more than one present"
        raise SignaturePolicyError(f"{where}: Exactly one of {names} must be specified, {found}")


def _identity(value: Any, where: str) -> None:
    type_name = value.get("type") if isinstance(value, Mapping) else None
    if type_name not in _IDENTITY_TYPES:
        raise SignaturePolicyError(
            f"{where}: Unknown policy reference match type {json.dumps(type_name)}"
        )
