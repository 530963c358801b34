"""`--verify-mirror`'s vocabulary: what to ask where, how the answers read, how long they
are kept, and what the webhook then says in each mode."""

from __future__ import annotations

import pytest

from tests.support.mirror_objects import entry, mirror_object
from tests.support.reviews import pod_review
from webhook.core.admission import Validation, read_review, validate
from webhook.core.decision import Mode, Outcome
from webhook.core.lookups import Lookup, LookupOutcome, Resolution
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.policy import PolicySettings, Reason
from webhook.core.presence import (
    CachePolicy,
    Presence,
    PresenceQuestion,
    PresenceVerdict,
    implied_presence,
    presence_of,
    presence_question,
    presence_questions,
    presence_verdict,
)
from webhook.core.workloads import ContainerType, ImageSite

D = "sha256:" + "d" * 64
E = "sha256:" + "e" * 64


def index_of(*objects: dict[str, object]) -> MirrorIndex:
    return MirrorIndex.from_config(load_mirror_sets(objects))


INDEX = index_of(
    mirror_object(
        "idms",
        "digests",
        [
            entry("quay.io/acme", "mirror.corp/acme", "backup.corp/acme"),
            entry("registry.redhat.io", "mirror.corp/redhat", never=True),
        ],
    ),
    mirror_object("itms", "tags", [entry("quay.io/acme", "mirror.corp/acme")]),
)


def site(image: str, container: str = "app") -> ImageSite:
    return ImageSite("/spec/containers/0/image", container, ContainerType.CONTAINER, image)


@pytest.mark.parametrize(
    ("image", "include_source", "asked"),
    [
        (
            f"quay.io/acme/app@{D}",
            False,
            (f"mirror.corp/acme/app@{D}", f"backup.corp/acme/app@{D}"),
        ),
        (
            f"quay.io/acme/app@{D}",
            True,
            (f"mirror.corp/acme/app@{D}", f"backup.corp/acme/app@{D}", f"quay.io/acme/app@{D}"),
        ),
        (
            f"quay.io/acme/app:v1@{D}",
            False,
            (f"mirror.corp/acme/app@{D}", f"backup.corp/acme/app@{D}"),
        ),
        ("quay.io/acme/app:v1", False, ("mirror.corp/acme/app:v1",)),
        ("quay.io/acme/app", False, ("mirror.corp/acme/app:latest",)),
        (f"registry.redhat.io/ubi9/ubi@{D}", True, (f"mirror.corp/redhat/ubi9/ubi@{D}",)),
        ("mirror.corp/acme/own:1", False, ("mirror.corp/acme/own:1",)),
    ],
    ids=[
        "digest: the digest mirrors in order",
        "digest: the source last when allowed",
        "tag and digest: pulled by the digest",
        "tag: the tag mirrors",
        "no tag: latest",
        "a blocked source is never asked",
        "named on the mirror itself",
    ],
)
def test_the_candidates_the_node_would_try_are_asked_in_its_order(
    image: str, include_source: bool, asked: tuple[str, ...]
) -> None:
    question = presence_question(image, INDEX, include_source)
    assert question is not None
    assert question.pull_specs == asked


@pytest.mark.parametrize(
    "image",
    [
        "docker.io/library/nginx:1.27",  # routed to no mirror: a finding says so already
        f"docker.io/library/nginx@{D}",
        "nginx",  # short name
        "Not A Reference",
    ],
)
def test_nothing_is_asked_of_a_host_the_mirror_sets_do_not_name(image: str) -> None:
    assert presence_question(image, INDEX, include_source=True) is None


def test_images_already_flagged_are_not_asked_about_and_each_image_is_asked_once() -> None:
    sites = [site(f"quay.io/acme/app@{D}"), site(f"quay.io/acme/app@{D}", "again")]
    flagged = [site("quay.io/acme/tool:1")]
    questions = presence_questions([*sites, *flagged], flagged, INDEX)
    assert [q.image for q in questions] == [f"quay.io/acme/app@{D}"]


QUESTION = PresenceQuestion(
    f"quay.io/acme/app@{D}",
    INDEX.explain(f"quay.io/acme/app@{D}").plans[0].reference,
    (f"mirror.corp/acme/app@{D}", f"backup.corp/acme/app@{D}"),
)


def answer(spec: str, outcome: LookupOutcome, detail: str = "") -> Lookup:
    return Lookup(spec, outcome, D if outcome is LookupOutcome.FOUND else None, None, detail)


MISSING_1 = answer(QUESTION.pull_specs[0], LookupOutcome.NOT_FOUND, "HTTP 404 from mirror.corp")
MISSING_2 = answer(QUESTION.pull_specs[1], LookupOutcome.NOT_FOUND, "HTTP 404 from backup.corp")
DENIED_2 = answer(
    QUESTION.pull_specs[1],
    LookupOutcome.UNAUTHORIZED,
    "HTTP 401 from backup.corp without credentials",
)


@pytest.mark.parametrize(
    ("attempts", "digest", "presence"),
    [
        ((answer(QUESTION.pull_specs[0], LookupOutcome.FOUND),), D, Presence.PRESENT),
        ((MISSING_1, answer(QUESTION.pull_specs[1], LookupOutcome.FOUND)), D, Presence.PRESENT),
        ((MISSING_1, MISSING_2), None, Presence.ABSENT),
        ((MISSING_1, DENIED_2), None, Presence.UNKNOWN),
        ((MISSING_1,), None, Presence.UNKNOWN),  # the deadline came before the second answer
        ((), None, Presence.UNKNOWN),
    ],
    ids=["first has it", "second has it", "none has it", "one refused", "timed out", "no answer"],
)
def test_only_every_candidate_saying_not_there_is_absence(
    attempts: tuple[Lookup, ...], digest: str | None, presence: Presence
) -> None:
    resolution = Resolution(QUESTION.image, digest, attempts, "registry lookup timed out")
    assert presence_verdict(QUESTION, resolution).presence is presence


def test_an_absent_verdict_names_what_was_asked_where() -> None:
    verdict = presence_verdict(QUESTION, Resolution(QUESTION.image, None, (MISSING_1, MISSING_2)))
    assert verdict.reason == "mirror.corp/acme/app: not found, backup.corp/acme/app: not found"


def test_an_unknown_verdict_says_why_the_check_could_not_be_made() -> None:
    verdict = presence_verdict(QUESTION, Resolution(QUESTION.image, None, (MISSING_1, DENIED_2)))
    assert verdict.reason == "unauthorized: HTTP 401 from backup.corp without credentials"


@pytest.mark.parametrize(
    ("outcome", "presence"),
    [
        (LookupOutcome.FOUND, Presence.PRESENT),
        (LookupOutcome.NOT_FOUND, Presence.ABSENT),
        (LookupOutcome.UNAUTHORIZED, Presence.UNKNOWN),
        (LookupOutcome.UNREACHABLE, Presence.UNKNOWN),
        (LookupOutcome.TIMEOUT, Presence.UNKNOWN),
        (LookupOutcome.BAD_ANSWER, Presence.UNKNOWN),
    ],
)
def test_each_registry_answer_reads_as_one_presence(
    outcome: LookupOutcome, presence: Presence
) -> None:
    assert presence_of(outcome) is presence


@pytest.mark.parametrize(
    ("lookup", "seconds"),
    [
        (answer(f"m/app@{D}", LookupOutcome.FOUND), 6 * 3600),
        (answer("m/app:v1", LookupOutcome.FOUND), 300),
        (answer(f"m/app@{D}", LookupOutcome.NOT_FOUND), 10),
        (answer("m/app:v1", LookupOutcome.NOT_FOUND), 10),
        (answer(f"m/app@{D}", LookupOutcome.UNREACHABLE), 0),
        (answer(f"m/app@{D}", LookupOutcome.UNAUTHORIZED), 0),
        (answer("m/app:v1", LookupOutcome.UNREACHABLE), 15),
    ],
    ids=[
        "present: hours",
        "a tag's digest: minutes",
        "absent digest: seconds",
        "absent tag: seconds",
        "unknown digest: never",
        "unauthorized digest: never",
        "failed tag: a pause",
    ],
)
def test_answers_are_kept_as_long_as_they_stay_true(lookup: Lookup, seconds: float) -> None:
    assert CachePolicy().seconds(lookup) == seconds


def test_a_tag_found_means_its_digest_is_in_that_repository() -> None:
    found = Lookup("mirror.corp:5000/acme/app:v1", LookupOutcome.FOUND, E, "m", "HTTP 200")
    implied = implied_presence(found)
    assert implied is not None
    assert (implied.pull_spec, implied.outcome) == (f"mirror.corp:5000/acme/app@{E}", found.outcome)


@pytest.mark.parametrize(
    "lookup",
    [
        Lookup("mirror.corp/acme/app:v1", LookupOutcome.NOT_FOUND),
        Lookup(f"mirror.corp/acme/app@{E}", LookupOutcome.FOUND, E),
    ],
    ids=["not found", "already by digest"],
)
def test_nothing_is_implied_by_a_miss_or_a_digest(lookup: Lookup) -> None:
    assert implied_presence(lookup) is None


# --- what the webhook says -----------------------------------------------------------------

IMAGE = f"quay.io/acme/app@{D}"
ABSENT = PresenceVerdict(
    IMAGE, Presence.ABSENT, (MISSING_1, MISSING_2), "mirror.corp/acme/app: not found"
)
UNKNOWN = PresenceVerdict(IMAGE, Presence.UNKNOWN, (DENIED_2,), "unauthorized: HTTP 401")


def judged(mode: Mode, verdict: PresenceVerdict) -> Validation:
    request = read_review(pod_review({"app": IMAGE}))
    return validate(request, mode, INDEX, PolicySettings(), presence={IMAGE: verdict})


def test_enforce_denies_an_image_none_of_its_mirrors_holds() -> None:
    validation = judged(Mode.ENFORCE, ABSENT)
    assert validation.outcome is Outcome.DENIED
    assert validation.decision.message.splitlines()[1] == (
        f'- container "app": {IMAGE}: in none of its mirrors (mirror.corp/acme/app: not found); '
        "mirror it (oc-mirror, or skopeo copy --all) before deploying"
    )


def test_warn_warns_about_an_image_none_of_its_mirrors_holds() -> None:
    validation = judged(Mode.WARN, ABSENT)
    assert validation.decision.warnings == (
        'container "app": quay.io/acme/app@sha256:dddddddddddd…: not in its mirrors; mirror it',
    )


def test_audit_records_an_image_none_of_its_mirrors_holds() -> None:
    validation = judged(Mode.AUDIT, ABSENT)
    assert list(validation.decision.audit_annotations) == ["not-in-mirror-0"]


@pytest.mark.parametrize("mode", [Mode.ENFORCE, Mode.WARN])
def test_a_mirror_that_cannot_be_asked_allows_with_a_warning(mode: Mode) -> None:
    validation = judged(mode, UNKNOWN)
    assert validation.decision.allowed
    assert validation.findings == ()
    assert validation.decision.warnings == (
        'container "app": quay.io/acme/app@sha256:dddddddddddd…: mirror not checked: '
        "unauthorized: HTTP 401",
    )


def test_audit_stays_silent_when_a_mirror_cannot_be_asked() -> None:
    validation = judged(Mode.AUDIT, UNKNOWN)
    assert validation.decision.warnings == ()
    assert validation.decision.audit_annotations == {}


def test_a_configuration_finding_is_not_replaced_by_presence() -> None:
    request = read_review(pod_review({"app": "docker.io/library/nginx:1"}))
    verdict = PresenceVerdict("docker.io/library/nginx:1", Presence.ABSENT, (), "x")
    validation = validate(
        request, Mode.ENFORCE, INDEX, PolicySettings(), presence={verdict.image: verdict}
    )
    assert [f.reason for f in validation.findings] == [Reason.TAG_NOT_MIRRORED]


def test_an_exempt_image_stays_exempt_whatever_its_mirrors_say() -> None:
    request = read_review(pod_review({"app": IMAGE}))
    settings = PolicySettings(exempt_images=("quay.io/acme/*",))
    validation = validate(request, Mode.ENFORCE, INDEX, settings, presence={IMAGE: ABSENT})
    assert validation.outcome is Outcome.ALLOWED


def test_a_source_the_signature_policy_rejects_is_never_asked() -> None:
    image = {
        "apiVersion": "config.openshift.io/v1",
        "kind": "Image",
        "metadata": {"name": "cluster"},
        "spec": {"registrySources": {"allowedRegistries": ["mirror.corp"]}},
    }
    idms = mirror_object("idms", "q", [entry("quay.io", "mirror.corp/quay")])
    index = MirrorIndex.from_config(load_mirror_sets([idms, image]))
    digest = "sha256:" + "c" * 64
    question = presence_question(f"quay.io/ns/app@{digest}", index, include_source=True)
    assert question is not None
    assert question.pull_specs == (f"mirror.corp/quay/ns/app@{digest}",)
