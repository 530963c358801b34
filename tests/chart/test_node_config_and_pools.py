"""Chart values for issue 14: `nodeConfig` (a node's own registries drop-ins, for MicroShift
and CRI-O clusters) and `openshift.machineConfigPools` (read-only access to what each pool
runs)."""

from __future__ import annotations

from tests.chart.test_deployment import arguments, container, pod_spec
from tests.support.helm import Helm

POOL_RULES = [
    {
        "apiGroups": ["machineconfiguration.openshift.io"],
        "resources": ["machineconfigpools"],
        "verbs": ["get", "list"],
    },
    {
        "apiGroups": ["machineconfiguration.openshift.io"],
        "resources": ["machineconfigs"],
        "verbs": ["get"],
    },
]


def test_a_node_config_map_is_mounted_as_the_drop_in_directory_and_passed(helm: Helm) -> None:
    rendered = helm.template({"nodeConfig": {"existingConfigMap": "microshift-mirrors"}})
    assert arguments(rendered)["--node-config"] == "/etc/idms-guard/node-config"
    mount = next(m for m in container(rendered)["volumeMounts"] if m["name"] == "node-config")
    assert mount == {
        "name": "node-config",
        "mountPath": "/etc/idms-guard/node-config/registries.conf.d",
        "readOnly": True,
    }
    volume = next(v for v in pod_spec(rendered)["volumes"] if v["name"] == "node-config")
    assert volume["configMap"] == {"name": "microshift-mirrors"}


def test_without_node_config_nothing_is_mounted_or_passed(helm: Helm) -> None:
    rendered = helm.template()
    assert "--node-config" not in arguments(rendered)
    assert all(v["name"] != "node-config" for v in pod_spec(rendered)["volumes"])


def test_pools_are_readable_on_a_cluster_that_serves_them(helm: Helm) -> None:
    rendered = helm.template(api_versions=["machineconfiguration.openshift.io/v1"])
    rules = rendered.one("ClusterRole")["rules"]
    assert all(rule in rules for rule in POOL_RULES)


def test_pools_are_not_readable_where_nothing_says_openshift(helm: Helm) -> None:
    rules = helm.template().one("ClusterRole")["rules"]
    assert not any(rule in rules for rule in POOL_RULES)


def test_pool_access_can_be_forced_on_or_off(helm: Helm) -> None:
    forced = helm.template({"openshift": {"machineConfigPools": True}}).one("ClusterRole")
    assert all(rule in forced["rules"] for rule in POOL_RULES)
    values = {"openshift": {"machineConfigPools": False}, "certificates": {"mode": "openshift"}}
    off = helm.template(values).one("ClusterRole")
    assert not any(rule in off["rules"] for rule in POOL_RULES)
