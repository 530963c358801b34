"""The webhook pods: restricted security, the flags and settings the app reads, the mounts.

Security follows OpenShift's restricted-v2 SCC and the Kubernetes "restricted" Pod
Security Standard: no fixed UID or fsGroup (OpenShift assigns them), non-root, no
privilege escalation, every capability dropped, RuntimeDefault seccomp, and a read-only
root filesystem with HOME and /tmp on emptyDirs.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import fields
from typing import Any

import pytest

from tests.chart.cases import CASES, CASES_BY_NAME, case_ids
from tests.support.helm import Helm, HelmError, Rendered
from webhook.cli import main
from webhook.config import ENV_PREFIX, Settings
from webhook.gunicorn_config import GRACEFUL_TIMEOUT_SECONDS

RESTRICTED_CAPABILITIES = {"NET_BIND_SERVICE"}  # the only one "restricted" lets a pod add
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip
CHART_SETTINGS = (
    "pin_timeout_seconds",
    "pin_keep_tag",
    "resolve_from_source",
    "pod_pull_secrets",
    "verify_mirror",
)
"""Settings the chart passes besides the exemptions and fail_closed."""


def pod_spec(rendered: Rendered) -> dict[str, Any]:
    spec: dict[str, Any] = rendered.one("Deployment")["spec"]["template"]["spec"]
    return spec


def container(rendered: Rendered) -> dict[str, Any]:
    (only,) = pod_spec(rendered)["containers"]
    return dict(only)


def environment(rendered: Rendered) -> dict[str, Any]:
    return {item["name"]: item for item in container(rendered)["env"]}


def arguments(rendered: Rendered) -> dict[str, str | None]:
    """The container's args: `--flag value` pairs, and `--switch` alone (None)."""
    args = container(rendered)["args"]
    parsed: dict[str, str | None] = {}
    for index, word in enumerate(args):
        if word.startswith("--"):
            following = args[index + 1] if index + 1 < len(args) else None
            has_value = following is not None and not following.startswith("--")
            parsed[word] = following if has_value else None
        else:
            assert args[index - 1].startswith("--"), args  # a value follows its flag
    return parsed


def serve_flags() -> set[str]:
    """The options `idms-guard serve --help` documents."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["serve", "--help"])
    return set(re.findall(r"(--[a-z][-a-z]*)", out.getvalue()))


@pytest.fixture(params=CASES, ids=case_ids())
def rendered(request: pytest.FixtureRequest, helm: Helm) -> Rendered:
    return request.param.render(helm)


def test_pod_security_passes_restricted_v2_and_the_restricted_standard(
    rendered: Rendered,
) -> None:
    spec = pod_spec(rendered)
    pods = [spec, *(pod["spec"] for pod in rendered.of_kind("Pod"))]
    for pod in pods:
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
        for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(host_namespace)
        for volume in pod.get("volumes", []):
            assert set(volume) - {"name"} <= RESTRICTED_VOLUME_TYPES, volume
        for item in pod["containers"]:
            context = item["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert set(context["capabilities"].get("add", [])) <= RESTRICTED_CAPABILITIES
            assert context["readOnlyRootFilesystem"] is True
            assert context.get("privileged") is not True
            assert context["runAsNonRoot"] is True
            assert "runAsUser" not in context
            assert not any(port.get("hostPort") for port in item.get("ports", []))


def test_no_fixed_user_or_group_by_default(default_render: Rendered) -> None:
    """restricted-v2 assigns UID and fsGroup from the namespace's range and refuses others."""
    for pod in [pod_spec(default_render), *(p["spec"] for p in default_render.of_kind("Pod"))]:
        assert pod["securityContext"].keys().isdisjoint({"runAsUser", "runAsGroup", "fsGroup"})


def test_fixed_ids_can_be_set_for_plain_kubernetes(helm: Helm) -> None:
    rendered = CASES_BY_NAME["network-policy-service-monitor-static-mirror-sets"].render(helm)
    security = pod_spec(rendered)["securityContext"]
    assert (security["runAsUser"], security["fsGroup"]) == (65532, 65532)


def test_writable_paths_are_empty_dirs(default_render: Rendered) -> None:
    mounts = {m["mountPath"]: m["name"] for m in container(default_render)["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod_spec(default_render)["volumes"]}
    home = environment(default_render)["HOME"]["value"]
    for path in (home, "/tmp"):
        assert "emptyDir" in volumes[mounts[path]], path


def test_the_tls_secret_is_mounted_whole_so_renewals_reach_the_server(
    rendered: Rendered,
) -> None:
    flags = arguments(rendered)
    (mount,) = [m for m in container(rendered)["volumeMounts"] if m["name"] == "tls"]
    assert "subPath" not in mount
    assert mount["readOnly"] is True
    assert flags["--cert"] == f"{mount['mountPath']}/tls.crt"
    assert flags["--key"] == f"{mount['mountPath']}/tls.key"
    (volume,) = [v for v in pod_spec(rendered)["volumes"] if v["name"] == "tls"]
    assert "items" not in volume["secret"]  # every key, as the certificate source writes them


def test_every_flag_is_one_serve_knows(default_render: Rendered) -> None:
    assert set(arguments(default_render)) <= serve_flags()
    assert container(default_render)["command"] == ["idms-guard", "serve"]


def test_registry_and_mirror_set_flags_point_into_their_mounts(helm: Helm) -> None:
    rendered = CASES_BY_NAME["network-policy-service-monitor-static-mirror-sets"].render(helm)
    flags = arguments(rendered)
    mounts = {m["name"]: m["mountPath"] for m in container(rendered)["volumeMounts"]}
    assert flags["--registry-auth"] == f"{mounts['registry-auth']}/.dockerconfigjson"
    assert flags["--registry-ca"] == f"{mounts['registry-ca']}/ca-bundle.crt"
    assert flags["--mirror-sets"] == mounts["mirror-sets"]
    volumes = {volume["name"]: volume for volume in pod_spec(rendered)["volumes"]}
    assert volumes["registry-auth"]["secret"]["items"] == [
        {"key": ".dockerconfigjson", "path": ".dockerconfigjson"}
    ]
    assert volumes["registry-ca"]["configMap"]["items"] == [
        {"key": "ca-bundle.crt", "path": "ca-bundle.crt"}
    ]
    unknown = set(flags) - serve_flags()
    if unknown:
        pytest.skip(f"idms-guard serve has no {sorted(unknown)} yet (issue 4)")


def test_optional_flags_are_absent_by_default(default_render: Rendered) -> None:
    flags = arguments(default_render)
    assert not {"--registry-auth", "--registry-ca", "--mirror-sets", "--no-cluster"} & set(flags)


def test_static_mirror_sets_alone_need_no_api_access(helm: Helm) -> None:
    objects = {"objects": [{"apiVersion": "config.openshift.io/v1", "kind": "ImageTagMirrorSet",
                            "metadata": {"name": "apps"}, "spec": {}}]}  # fmt: skip
    rendered = helm.template({"mirrorSets": {"watchCluster": False, **objects}})
    flags = arguments(rendered)
    assert flags["--no-cluster"] is None
    assert flags["--mirror-sets"] == "/etc/idms-guard/mirror-sets"
    assert set(flags) <= serve_flags()
    assert pod_spec(rendered)["automountServiceAccountToken"] is False
    assert rendered.of_kind("ClusterRole") == rendered.of_kind("ClusterRoleBinding") == []
    assert pod_spec(helm.template())["automountServiceAccountToken"] is True
    with pytest.raises(HelmError, match=r"mirrorSets\.watchCluster is false"):
        helm.template({"mirrorSets": {"watchCluster": False}})


@pytest.mark.parametrize(
    "name", sorted(f"{ENV_PREFIX}{key.upper()}" for key in [*CHART_SETTINGS, "fail_closed"])
)
def test_each_setting_in_the_environment_is_one_the_app_reads(
    default_render: Rendered, name: str
) -> None:
    env = environment(default_render)
    assert name in env
    field = name.removeprefix(ENV_PREFIX).lower()
    assert field in {setting.name for setting in fields(Settings)}
    Settings.from_env({name: env[name]["value"]})  # parses as the app parses it


def test_every_idms_guard_variable_is_expected(default_render: Rendered) -> None:
    names = {name for name in environment(default_render) if name.startswith(ENV_PREFIX)}
    expected = {
        f"{ENV_PREFIX}{key.upper()}"
        for key in [*CHART_SETTINGS, "fail_closed", "exempt_namespaces", "exempt_images"]
    }
    assert names == expected


def test_exemptions_reach_the_app_settings(helm: Helm) -> None:
    rendered = CASES_BY_NAME["network-policy-service-monitor-static-mirror-sets"].render(helm)
    env = environment(rendered)
    settings = Settings.from_env(
        {name: item["value"] for name, item in env.items() if "value" in item}
    )
    assert settings.exempt_namespaces == ("kube-*", "openshift-*")
    assert settings.exempt_images == (
        "image-registry.openshift-image-registry.svc:5000/*",
        "image-registry.openshift-image-registry.svc.cluster.local:5000/*",
        "mirror.corp.example:8443/*",
    )
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_default_exempt_images_are_the_apps_defaults(default_render: Rendered) -> None:
    env = environment(default_render)
    settings = Settings.from_env(
        {name: item["value"] for name, item in env.items() if "value" in item}
    )
    assert settings.exempt_images == Settings().exempt_images
    assert settings.exempt_namespaces == Settings().exempt_namespaces


def test_replicas_spread_and_survive_a_drain(default_render: Rendered) -> None:
    deployment = default_render.one("Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (spread,) = pod_spec(default_render)["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert default_render.one("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_shutdown_waits_for_endpoints_to_drain(default_render: Rendered) -> None:
    spec = pod_spec(default_render)
    pre_stop = container(default_render)["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[:2] == ["python3", "-c"]
    sleep = re.fullmatch(r"import time; time\.sleep\((\d+)\)", pre_stop[2])
    assert sleep is not None, pre_stop
    seconds = int(sleep.group(1))
    assert seconds + GRACEFUL_TIMEOUT_SECONDS <= spec["terminationGracePeriodSeconds"]


def test_rbac_reads_mirror_sets_and_secrets_only_when_asked(helm: Helm) -> None:
    default = helm.template().one("ClusterRole")["rules"]
    read = ["get", "list", "watch"]
    assert default == [
        {
            "apiGroups": ["config.openshift.io"],
            "resources": ["imagedigestmirrorsets", "imagetagmirrorsets"],
            "verbs": read,
        },
        {
            "apiGroups": ["operator.openshift.io"],
            "resources": ["imagecontentsourcepolicies"],
            "verbs": read,
        },
        {
            "apiGroups": ["config.openshift.io"],
            "resources": ["images", "clusterversions"],
            "verbs": read,
        },
    ]
    with_secrets = helm.template({"registry": {"podPullSecrets": True}}).one("ClusterRole")
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]} in with_secrets["rules"]
    binding = helm.template().one("ClusterRoleBinding")
    (subject,) = binding["subjects"]
    assert subject["name"] == pod_spec(helm.template())["serviceAccountName"]


def test_a_registry_proxy_reaches_registry_lookups_only(helm: Helm) -> None:
    proxy = {"httpsProxy": "http://proxy.corp:3128", "noProxy": ".corp,10.0.0.0/8"}
    env = environment(helm.template({"registry": {"proxy": proxy}}))
    assert env["IDMS_GUARD_REGISTRY_PROXY"]["value"] == "http://proxy.corp:3128"
    assert env["IDMS_GUARD_REGISTRY_NO_PROXY"]["value"] == ".corp,10.0.0.0/8"
    assert "HTTPS_PROXY" not in env  # the API client would use it for the API server too


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, None),
        ({"webhooks": {"enforce": {"failurePolicy": "Fail"}}}, "system-cluster-critical"),
        ({"webhooks": {"enforce": {"failurePolicy": "Fail"}}, "priorityClassName": ""}, None),
        ({"webhooks": {"enforce": {"failurePolicy": "Fail", "enabled": False}}}, None),
        ({"priorityClassName": "webhooks-high"}, "webhooks-high"),
    ],
    ids=["ignore", "fail", "fail, none asked", "fail, enforce off", "chosen"],
)
def test_the_priority_class_follows_the_enforce_failure_policy(
    helm: Helm, values: dict[str, Any], expected: str | None
) -> None:
    """Failing closed, an evicted webhook blocks pods: it gets a critical class, as
    Gatekeeper's does."""
    assert pod_spec(helm.template(values)).get("priorityClassName") == expected


def test_verify_mirror_is_off_by_default_and_the_value_turns_it_on(
    default_render: Rendered, helm: Helm
) -> None:
    on = helm.template({"verifyMirror": {"enabled": True}})
    assert environment(default_render)[f"{ENV_PREFIX}VERIFY_MIRROR"]["value"] == "false"
    assert environment(on)[f"{ENV_PREFIX}VERIFY_MIRROR"]["value"] == "true"
    assert Settings.from_env({f"{ENV_PREFIX}VERIFY_MIRROR": "true"}).verify_mirror


def test_open_connections_per_worker_come_from_the_value(helm: Helm) -> None:
    rendered = helm.template({"server": {"connections": 250}})
    assert arguments(rendered)["--connections"] == "250"
    assert "--threads" not in arguments(rendered)


def test_threads_per_worker_is_no_longer_a_value(helm: Helm) -> None:
    with pytest.raises(HelmError, match="threads"):
        helm.template({"server": {"threads": 16}})
