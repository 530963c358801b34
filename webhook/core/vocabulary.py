"""The words findings use for mirror rules, by where the rules come from.

The same pull plan reads differently to its audience: on OpenShift the fix is an
ImageDigestMirrorSet, on MicroShift or a plain CRI-O node it is a `[[registry]]` table in
a registries.conf.d drop-in. Judging never depends on this, only what is printed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Vocabulary:
    blocking: str
    """What blocks a source, in parentheses after "is blocked"; `{origin}` names the table."""
    digest_rule: str
    """Subject of "no … serves NAME" for pulls by digest."""
    tag_rule: str
    """Subject of "no … serves NAME" for pulls by tag."""
    add_digest_rule: str
    """The fix for an unmirrored digest, with `{scope}`."""
    add_tag_rule: str
    """The fix for an unmirrored tag, with `{scope}`."""
    digest_hint: str
    tag_hint: str
    digest_mirrors: str
    """Mirrors that serve digests only, as a plural subject."""
    digest_only_note: str
    """Why a tag pull skips the mirrors, in parentheses."""
    unaliased: str
    """What may still change a short name's expansion."""


OBJECTS = Vocabulary(
    blocking="NeverContactSource",
    digest_rule="ImageDigestMirrorSet",
    tag_rule="ImageTagMirrorSet",
    add_digest_rule="add an ImageDigestMirrorSet for {scope}",
    add_tag_rule="add an ImageTagMirrorSet for {scope}",
    digest_hint="no mirror; add an ImageDigestMirrorSet",
    tag_hint="tag not mirrored; add an ImageTagMirrorSet",
    digest_mirrors="ImageDigestMirrorSet mirrors",
    digest_only_note="its ImageDigestMirrorSet/ICSP mirrors serve pulls by digest only",
    unaliased="unless the node OS aliases it",
)

NODE_FILES = Vocabulary(
    blocking="blocked = true in {origin}",
    digest_rule="[[registry]] mirror for digests",
    tag_rule="[[registry]] mirror for tags",
    add_digest_rule=(
        'add a [[registry]] for {scope} with a mirror (pull-from-mirror = "digest-only") '
        "in a registries.conf.d drop-in"
    ),
    add_tag_rule=(
        'add a mirror for tags (pull-from-mirror = "tag-only" or "all") to a [[registry]] '
        "for {scope} in a registries.conf.d drop-in"
    ),
    digest_hint="no mirror; add a [[registry]] mirror",
    tag_hint="tag not mirrored; add a mirror for tags",
    digest_mirrors="its digest-only mirrors",
    digest_only_note="its mirrors serve pulls by digest only",
    unaliased="as no alias in these files names it",
)
