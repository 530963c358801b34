"""Image/cluster `insecureRegistries` in the registry client, against the real Distribution
registry: for exactly the repositories the index calls insecure, TLS is not verified and
plain HTTP is tried, as containers/image does on the node; everywhere else nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mirror_objects import entry, mirror_object
from tests.support.registry import RegistryServer, RegistryTls, push_image
from webhook.adapters.registry import LookupOutcome, RegistryClient
from webhook.core.image_reference import parse_normalized
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.node_registries import NodeFile, read_node_registries


@pytest.fixture(scope="module")
def http_registry(
    tmp_path_factory: pytest.TempPathFactory, registry_tls: RegistryTls
) -> Iterator[RegistryServer]:
    """A mirror that speaks plain HTTP only."""
    workdir = tmp_path_factory.mktemp("http-registry")
    with RegistryServer(workdir, registry_tls, plain_http=True) as server:
        yield server


def index_with_insecure(*scopes: str) -> MirrorIndex:
    image = {
        "apiVersion": "config.openshift.io/v1",
        "kind": "Image",
        "metadata": {"name": "cluster"},
        "spec": {"registrySources": {"insecureRegistries": list(scopes)}},
    }
    idms = mirror_object("idms", "quay", [entry("quay.io", "mirror.corp/quay")])
    return MirrorIndex.from_config(load_mirror_sets([idms, image]))


def client(insecure: MirrorIndex | None) -> RegistryClient:
    """Trusts only the system CAs: the test CA is unknown, as an insecure mirror's is."""
    return RegistryClient(None, None, timeout=5.0, insecure=insecure.insecure if insecure else None)


def test_an_insecure_scope_skips_certificate_verification(
    anonymous_registry: RegistryServer,
) -> None:
    pushed = push_image(anonymous_registry, "team/app", "v1", layer_bytes=b"insecure-tls")
    spec = f"{anonymous_registry.host}/team/app:v1"
    with client(index_with_insecure(anonymous_registry.host)) as insecure:
        lookup = insecure.manifest_digest(spec)
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, pushed)


def test_a_mirror_insecure_on_its_own_entry_skips_certificate_verification(
    anonymous_registry: RegistryServer,
) -> None:
    """A node's registries.conf with `insecure = true` on the `[[registry.mirror]]` entry
    only (no table for the mirror's host): CRI-O skips TLS checks there, and so must we."""
    pushed = push_image(anonymous_registry, "entry/app", "v1", layer_bytes=b"insecure-entry")
    conf = (
        '[[registry]]\nlocation = "quay.io/entry"\n\n[[registry.mirror]]\n'
        f'location = "{anonymous_registry.host}/entry"\ninsecure = true\n'
    )
    registries = read_node_registries([NodeFile("registries.conf", conf)])
    index = MirrorIndex(registries.tables, registries.search_registries)
    with client(index) as insecure:
        lookup = insecure.manifest_digest(f"{anonymous_registry.host}/entry/app:v1")
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, pushed)


def test_outside_the_insecure_scopes_certificates_are_still_verified(
    anonymous_registry: RegistryServer,
) -> None:
    push_image(anonymous_registry, "team/other", "v1", layer_bytes=b"verified")
    spec = f"{anonymous_registry.host}/team/other:v1"
    with client(index_with_insecure(f"{anonymous_registry.host}/team/app")) as verified:
        lookup = verified.manifest_digest(spec)
    assert lookup.outcome is LookupOutcome.UNREACHABLE
    assert "certificate" in lookup.detail


def test_an_insecure_mirror_that_speaks_plain_http_is_reached(
    http_registry: RegistryServer,
) -> None:
    pushed = push_image(http_registry, "team/plain", "v2", layer_bytes=b"plain-http")
    spec = f"{http_registry.host}/team/plain:v2"
    with client(index_with_insecure(http_registry.host)) as insecure:
        lookup = insecure.manifest_digest(spec)
    assert (lookup.outcome, lookup.digest) == (LookupOutcome.FOUND, pushed)


def test_plain_http_is_never_tried_for_a_registry_that_is_not_insecure(
    http_registry: RegistryServer,
) -> None:
    push_image(http_registry, "team/plain2", "v1", layer_bytes=b"not-insecure")
    with client(None) as secure:
        lookup = secure.manifest_digest(f"{http_registry.host}/team/plain2:v1")
    assert lookup.outcome is LookupOutcome.UNREACHABLE


def test_the_index_says_which_repositories_are_insecure() -> None:
    index = index_with_insecure("mirror.corp:5000/ns")
    assert index.insecure("mirror.corp:5000/ns/app")
    assert not index.insecure("mirror.corp:5000/other")
    assert not index.insecure(parse_normalized("quay.io/x:1").name)
