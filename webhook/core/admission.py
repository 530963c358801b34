"""AdmissionReview in, AdmissionReview out (`admission.k8s.io/v1` only).

`read_review` turns an untrusted body into an `AdmissionRequest` or raises
`AdmissionReviewError` naming the first thing wrong; `validate` is the whole validating
webhook as a pure function. The response always echoes `request.uid`: the API server
rejects an answer for another request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.core.decision import Decision, Mode, Outcome, cautions_for, decide
from webhook.core.mirror_index import MirrorIndex
from webhook.core.policy import Finding, PolicySettings, findings_for, namespace_exempt
from webhook.core.presence import PresenceVerdict
from webhook.core.workloads import SUPPORTED_KINDS, ImageSite, changed_sites, image_sites
from webhook.errors import AdmissionReviewError

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    uid: str
    group: str
    kind: str
    sub_resource: str
    namespace: str
    name: str
    operation: str
    dry_run: bool
    object: Any
    old_object: Any
    username: str

    @property
    def described(self) -> str:
        """`Kind/name` for logs; controller-made pods have only generateName."""
        name = self.name or _generate_name(self.object) or "<unnamed>"
        return f"{self.kind}/{name}"


@dataclass(frozen=True, slots=True)
class Validation:
    request: AdmissionRequest
    decision: Decision
    findings: tuple[Finding, ...]
    sites: tuple[ImageSite, ...] = ()
    """The images judged (an UPDATE's changed ones only): what `--verify-mirror` asks about."""

    @property
    def outcome(self) -> Outcome:
        return self.decision.outcome


def read_review(body: Any) -> AdmissionRequest:
    if not isinstance(body, Mapping):
        raise AdmissionReviewError("the body must be a JSON object (an AdmissionReview)")
    if body.get("apiVersion") != API_VERSION or body.get("kind") != KIND:
        raise AdmissionReviewError(
            f"expected apiVersion {API_VERSION} and kind {KIND}, got "
            f"{_shown(body.get('apiVersion'))} {_shown(body.get('kind'))}"
        )
    request = body.get("request")
    if not isinstance(request, Mapping):
        raise AdmissionReviewError("request: required, must be an object")
    uid = _string(request, "request", "uid", required=True)
    kind = request.get("kind")
    if not isinstance(kind, Mapping) or not isinstance(kind.get("kind"), str):
        raise AdmissionReviewError("request.kind: required, must be {group, version, kind}")
    operation = _string(request, "request", "operation", required=True)
    if operation not in OPERATIONS:
        raise AdmissionReviewError(f"request.operation: must be one of {', '.join(OPERATIONS)}")
    for key in ("object", "oldObject"):
        if request.get(key) is not None and not isinstance(request.get(key), Mapping):
            raise AdmissionReviewError(f"request.{key}: must be an object or null")
    user = request.get("userInfo")
    return AdmissionRequest(
        uid=uid,
        group=_string(kind, "request.kind", "group"),
        kind=kind["kind"],
        sub_resource=_string(request, "request", "subResource"),
        namespace=_string(request, "request", "namespace"),
        name=_string(request, "request", "name"),
        operation=operation,
        dry_run=request.get("dryRun") is True,
        object=request.get("object"),
        old_object=request.get("oldObject"),
        username=_string(user, "request.userInfo", "username") if isinstance(user, Mapping) else "",
    )


def validate(
    request: AdmissionRequest,
    mode: Mode,
    index: MirrorIndex,
    settings: PolicySettings,
    known_digests: Mapping[str, str] | None = None,
    presence: Mapping[str, PresenceVerdict] | None = None,
) -> Validation:
    """The validating webhook. Dry-run requests are judged the same; side effects (logs,
    metrics) are the caller's, which can tell them apart by `request.dry_run`.
    `known_digests` (image → digest found in the mirrors) turns fixes into exact ones;
    `presence` (image → what its mirrors answered) adds `not-in-mirror` findings and a
    warning for each image whose mirrors could not be asked."""
    if (request.group, request.kind) not in SUPPORTED_KINDS or request.operation not in (
        "CREATE",
        "UPDATE",
    ):
        return Validation(request, Decision(True, Outcome.NOT_A_WORKLOAD), ())
    if namespace_exempt(request.namespace, settings):
        return Validation(request, Decision(True, Outcome.EXEMPT), ())
    if request.operation == "UPDATE":
        sites = changed_sites(request.group, request.kind, request.object, request.old_object)
        if not sites:
            return Validation(request, Decision(True, Outcome.UNCHANGED), ())
    else:
        sites = image_sites(request.group, request.kind, request.object)
    findings = tuple(findings_for(sites, index, settings, known_digests, presence))
    cautions = cautions_for(sites, presence) if presence else ()
    return Validation(request, decide(mode, findings, cautions), findings, tuple(sites))


def review_response(
    uid: str,
    decision: Decision,
    patch: str | None = None,
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The AdmissionReview answer; `patch` is base64 JSONPatch, for the mutating endpoint only."""
    response: dict[str, Any] = {"uid": uid, "allowed": decision.allowed}
    if not decision.allowed:
        response["status"] = {"code": 403, "reason": "Forbidden", "message": decision.message}
    all_warnings = [*decision.warnings, *warnings]
    if all_warnings:
        response["warnings"] = all_warnings
    if decision.audit_annotations:
        response["auditAnnotations"] = dict(decision.audit_annotations)
    if patch is not None:
        response["patchType"] = "JSONPatch"
        response["patch"] = patch
    return {"apiVersion": API_VERSION, "kind": KIND, "response": response}


def _string(mapping: Mapping[str, Any], where: str, key: str, required: bool = False) -> str:
    """`mapping[key]` as a string; an error names the field as `where.key`, its path in the
    body as sent, so whoever built the review finds it."""
    value = mapping.get(key)
    if isinstance(value, str) and (value or not required):
        return value
    if value is None and not required:
        return ""
    needed = "required, " if required else ""
    raise AdmissionReviewError(f"{where}.{key}: {needed}must be a string")


def _generate_name(obj: Any) -> str:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    name = metadata.get("generateName") if isinstance(metadata, Mapping) else None
    return f"{name}*" if isinstance(name, str) and name else ""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
