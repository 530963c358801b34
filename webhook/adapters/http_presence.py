"""`--verify-mirror` as the validating routes run it: ask the mirrors whether they hold the
images the configuration routes to them, within the request's registry deadline.

The same round trip as pinning (`http_pinning.Registry`: the pod's pull secrets when
enabled, the shared resolver's cache and single flight), so a digest `/mutate` just
pinned is answered from the cache. Whatever is not answered in time is unknown: a
warning, never a denial.
"""

from __future__ import annotations

from webhook.adapters.http_pinning import Registry
from webhook.core.admission import AdmissionRequest, Validation
from webhook.core.mirror_index import MirrorIndex
from webhook.core.presence import PresenceVerdict, presence_questions, verify_presence


def mirror_presence(
    review: AdmissionRequest,
    validation: Validation,
    index: MirrorIndex,
    registry: Registry,
    timeout: float,
    include_source: bool = False,
) -> dict[str, PresenceVerdict]:
    """What the mirrors answered for each image that no finding flags already."""
    flagged = [finding.site for finding in validation.findings]
    questions = presence_questions(validation.sites, flagged, index, include_source)
    return verify_presence(
        questions, lambda lookups, left: registry.resolve(review, lookups, left), timeout
    )
