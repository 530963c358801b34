"""`--verify-mirror` as the validating routes run it: ask the mirrors whether they hold the
images the configuration routes to them, within the request's registry deadline.

The same round trip as pinning (`http_pinning.Registry`: the pod's pull secrets when
enabled, the shared resolver's cache and single flight), so a digest `/mutate` just
pinned is answered from the cache. Whatever is not answered in time is unknown: a
warning, never a denial.

Most requests name images already found: those are answered by `PresenceMemo` with one
lookup each, without rebuilding questions and verdicts from the resolver's cached answers
(DESIGN: a repeated image costs a dictionary lookup).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from webhook.adapters.http_pinning import Registry
from webhook.core.admission import AdmissionRequest, Validation
from webhook.core.lookups import credential_scope
from webhook.core.mirror_index import MirrorIndex
from webhook.core.presence import (
    CachePolicy,
    Presence,
    PresenceVerdict,
    presence_questions,
    verify_presence,
)


class PresenceMemo:
    """Verdicts "present", by (credential scope, image), for the index they were made with.

    Only "present" is kept: absence and unknown go back to the resolver, whose policy
    keeps them seconds or not at all. The memo is dropped whole every
    `CachePolicy.verdict_seconds` (so a verdict outlives the resolver's cached answers
    behind it by that much at most), when full, and when the index changes (the mirror
    sets changed, and the resolver was flushed): one clock read per request, not one
    expiry check per image.
    """

    def __init__(
        self,
        policy: CachePolicy | None = None,
        maxsize: int = 8192,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = (policy or CachePolicy()).verdict_seconds
        self._maxsize = maxsize
        self._clock = clock
        self._verdicts: dict[tuple[str, str], PresenceVerdict] = {}
        self._index: MirrorIndex | None = None
        self._until = 0.0
        self._lock = threading.Lock()

    def known(self, index: MirrorIndex, scope: str, images: set[str]) -> dict[str, PresenceVerdict]:
        now = self._clock()
        with self._lock:
            if index is not self._index or now >= self._until:
                self._verdicts, self._index, self._until = {}, index, now + self._seconds
                return {}
            verdicts = self._verdicts
        return {
            image: verdict
            for image in images
            if (verdict := verdicts.get((scope, image))) is not None
        }

    def remember(
        self, index: MirrorIndex, scope: str, verdicts: Mapping[str, PresenceVerdict]
    ) -> None:
        with self._lock:
            if index is not self._index:
                return  # the index changed while the mirrors were asked
            if len(self._verdicts) + len(verdicts) > self._maxsize:
                self._verdicts = {}
            for image, verdict in verdicts.items():
                if verdict.presence is Presence.PRESENT:
                    self._verdicts[(scope, image)] = verdict


def mirror_presence(
    review: AdmissionRequest,
    validation: Validation,
    index: MirrorIndex,
    registry: Registry,
    timeout: float,
    memo: PresenceMemo,
    include_source: bool = False,
) -> dict[str, PresenceVerdict]:
    """What the mirrors answered for each image that no finding flags already."""
    flagged = [finding.site for finding in validation.findings]
    wanted = {site.image for site in validation.sites if site.image} - {s.image for s in flagged}
    if not wanted:
        return {}  # and no pull secret is read
    started = time.monotonic()
    secrets = registry.secrets(review, timeout / 2)  # the memo's key: read once, used twice
    scope = credential_scope(secrets)
    known = memo.known(index, scope, wanted)
    if len(known) == len(wanted):
        return known
    rest = [site for site in validation.sites if site.image not in known]
    questions = presence_questions(rest, flagged, index, include_source)
    left = max(0.0, timeout - (time.monotonic() - started))
    verdicts = verify_presence(
        questions, lambda lookups, t: registry.resolve(review, lookups, t, secrets), left
    )
    memo.remember(index, scope, verdicts)
    return {**known, **verdicts}
