"""One exception tree for the whole project, so callers catch by meaning, not by origin.

    IdmsGuardError                  anything idms-guard raises on purpose
    ├── InvalidReferenceError       an image reference the runtime could not parse
    ├── MirrorSetError              a mirror-set object or file that cannot be used
    │   └── MirrorSetFileError      a file or directory that cannot be read or parsed
    ├── AdmissionReviewError        a request body that is not a usable AdmissionReview
    ├── CertificateError            a certificate or key that cannot be used
    ├── RegistryConfigError         a registry auth file or CA bundle that cannot be used
    ├── NodeConfigError             a node's registries.conf (or drop-in) that cannot be used
    ├── SignaturePolicyError        a policy.json document containers/image would refuse
    ├── KubeConfigError             no usable cluster connection settings
    ├── KubeApiError                the Kubernetes API failed or refused a request
    └── UsageError                  bad command-line arguments

Every message names the input that is wrong and why, so the CLI and the webhook can show
it as it is, without a traceback.
"""

from __future__ import annotations


class IdmsGuardError(Exception):
    """Base of every error idms-guard raises deliberately."""


class InvalidReferenceError(IdmsGuardError, ValueError):
    """An image reference does not follow the grammar CRI-O parses with.

    `reason` is the upstream wording (containers/image), `hint` points at the offending
    part of `reference`, the input as given.
    """

    def __init__(self, reference: str, reason: str, hint: str = "") -> None:
        self.reference = reference
        self.reason = reason
        self.hint = hint
        detail = f" ({hint})" if hint else ""
        super().__init__(f"invalid image reference {reference!r}: {reason}{detail}")


class MirrorSetError(IdmsGuardError):
    """A mirror-set object (IDMS, ITMS or ICSP) that cannot be used."""


class MirrorSetFileError(MirrorSetError):
    """A mirror-set file or directory that cannot be read or parsed."""


class AdmissionReviewError(IdmsGuardError):
    """A webhook request body that is not an `admission.k8s.io/v1` AdmissionReview we can answer.

    The HTTP layer answers it with 400 and this message; it never becomes a 500.
    """


class CertificateError(IdmsGuardError):
    """A certificate or key that cannot be used."""


class RegistryConfigError(IdmsGuardError):
    """A registry auth file or CA bundle that cannot be used."""


class NodeConfigError(IdmsGuardError):
    """A node's registries file (registries.conf, a drop-in, a rendered MachineConfig) that
    cannot be used; the message starts with the file's name."""


class SignaturePolicyError(IdmsGuardError):
    """A `policy.json` document that containers/image would refuse to load.

    A node with such a file pulls nothing at all, so the message names the key path and
    the upstream reason (`Unknown key`, `Default policy is missing`, …).
    """


class KubeConfigError(IdmsGuardError):
    """No usable cluster connection settings (kubeconfig or in-cluster)."""


class KubeApiError(IdmsGuardError):
    """The Kubernetes API could not be reached, or refused or failed a request.

    Raised by one-shot reads (the report); the watcher logs and retries instead.
    """


class UsageError(IdmsGuardError):
    """Command-line arguments that do not make sense together."""
