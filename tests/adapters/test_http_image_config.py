"""The webhook's answer when Image/cluster makes the node's signature policy reject a pull
(Flask's test client; the index as the file or cluster sources would swap it in)."""

from __future__ import annotations

from tests.support.mirror_objects import entry, mirror_object
from tests.support.reviews import pod_review
from webhook.adapters.http_app import AppSettings, create_app
from webhook.core.mirror_sets import load_mirror_sets
from webhook.core.policy import PolicySettings
from webhook.index_sources import IndexHolder

D = "sha256:" + "a" * 64
IMAGE = {
    "apiVersion": "config.openshift.io/v1",
    "kind": "Image",
    "metadata": {"name": "cluster"},
    "spec": {"registrySources": {"blockedRegistries": ["quay.io"]}},
}


def holder() -> IndexHolder:
    holder = IndexHolder()
    idms = mirror_object("idms", "quay", [entry("quay.io", "mirror.corp/quay")])
    holder.swap(load_mirror_sets([idms, IMAGE]))
    return holder


def test_enforce_denies_a_pull_the_signature_policy_rejects_and_says_why() -> None:
    client = create_app(AppSettings(PolicySettings()), holder()).test_client()
    reply = client.post("/validate/enforce", json=pod_review({"web": f"quay.io/ns/app@{D}"}))
    response = reply.get_json()["response"]
    assert response["allowed"] is False
    message = response["status"]["message"]
    assert "quay.io is in blockedRegistries of Image/cluster" in message
    assert "remove quay.io from blockedRegistries" in message


def test_warn_allows_and_warns() -> None:
    client = create_app(AppSettings(PolicySettings()), holder()).test_client()
    reply = client.post("/validate/warn", json=pod_review({"web": f"quay.io/ns/app@{D}"}))
    response = reply.get_json()["response"]
    assert response["allowed"] is True
    assert any("quay.io" in warning for warning in response["warnings"])


def test_the_mirrors_own_name_is_allowed() -> None:
    client = create_app(AppSettings(PolicySettings()), holder()).test_client()
    image = f"mirror.corp/quay/ns/app@{D}"
    reply = client.post("/validate/enforce", json=pod_review({"web": image}))
    assert reply.get_json()["response"]["allowed"] is True
