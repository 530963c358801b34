"""Values that would render a broken or unsafe Deployment are refused at render time, each
with a message that names the value and says what to do; `--set` decimals are accepted.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from kubernetes_validate.utils import latest_version

from tests.chart.kube_schemas import kubernetes_properties
from tests.support.helm import CHART, Helm, HelmError, Rendered
from webhook.config import Settings
from webhook.gunicorn_config import GRACEFUL_TIMEOUT_SECONDS

SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def container(rendered: Rendered) -> dict[str, Any]:
    (only,) = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(only)


def test_the_chart_knows_gunicorns_graceful_timeout(helm: Helm) -> None:
    """The check below must use the timeout the server really has."""
    needed = GRACEFUL_TIMEOUT_SECONDS + 5  # the default preStopSleepSeconds
    helm.template({"terminationGracePeriodSeconds": needed})
    with pytest.raises(HelmError, match=f"at least {needed}"):
        helm.template({"terminationGracePeriodSeconds": needed - 1})


@pytest.mark.parametrize(
    "values",
    [
        {"preStopSleepSeconds": 15},
        {"terminationGracePeriodSeconds": 20},
        {"preStopSleepSeconds": 0, "terminationGracePeriodSeconds": 10},
    ],
    ids=json.dumps,
)
def test_a_grace_period_shorter_than_the_shutdown_is_refused(
    helm: Helm, values: dict[str, int]
) -> None:
    with pytest.raises(HelmError, match=r"terminationGracePeriodSeconds .* is shorter than"):
        helm.template(values)


def test_a_grace_period_that_covers_the_shutdown_is_accepted(helm: Helm) -> None:
    rendered = helm.template({"preStopSleepSeconds": 15, "terminationGracePeriodSeconds": 35})
    assert (
        rendered.one("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        == 35
    )


def test_no_replica_with_enforce_failing_closed_is_refused(helm: Helm) -> None:
    fail = {"webhooks": {"enforce": {"failurePolicy": "Fail"}}}
    with pytest.raises(HelmError, match=r"replicaCount is 0 while .*failurePolicy is Fail"):
        helm.template({"replicaCount": 0, **fail})


@pytest.mark.parametrize(
    "values",
    [
        {"replicaCount": 0},
        {"replicaCount": 0, "webhooks": {"enforce": {"enabled": False, "failurePolicy": "Fail"}}},
        {"replicaCount": 1, "webhooks": {"enforce": {"failurePolicy": "Fail"}}},
    ],
    ids=json.dumps,
)
def test_no_replica_is_accepted_where_nothing_fails_closed(
    helm: Helm, values: dict[str, Any]
) -> None:
    assert helm.template(values).one("Deployment")["spec"]["replicas"] == values["replicaCount"]


def test_a_privileged_container_is_refused(helm: Helm) -> None:
    with pytest.raises(HelmError, match=r"securityContext\.privileged is true"):
        helm.template({"securityContext": {"privileged": True}})


@pytest.mark.parametrize(
    ("key", "typo"),
    [
        ("securityContext", "readOnlyRootFileSystem"),
        ("securityContext", "privilegd"),
        ("podSecurityContext", "runAsNonroot"),
        ("podSecurityContext", "privileged"),  # a container setting, not a pod one
    ],
)
def test_unknown_security_context_keys_are_refused(helm: Helm, key: str, typo: str) -> None:
    with pytest.raises(HelmError, match=f"at '/{key}': additional properties '{typo}'"):
        helm.template({key: {typo: True}})


@pytest.mark.parametrize(
    ("key", "kubernetes_kind"),
    [("podSecurityContext", "PodSecurityContext"), ("securityContext", "SecurityContext")],
)
def test_security_context_keys_are_those_of_kubernetes(key: str, kubernetes_kind: str) -> None:
    """Every key the newest Kubernetes knows, none it does not, all of 1.33's."""
    allowed = set(SCHEMA["properties"][key]["properties"])
    assert allowed == kubernetes_properties(kubernetes_kind, latest_version())
    assert kubernetes_properties(kubernetes_kind, "1.33.0") <= allowed


@pytest.mark.parametrize("given", ["1.5", "3", "0.25"])
def test_a_decimal_given_with_set_is_accepted(helm: Helm, given: str) -> None:
    """`--set pinning.lookupTimeoutSeconds=1.5` passes the string "1.5"."""
    output = helm.run(
        "template", "guard", str(CHART), "--namespace", "idms-guard",
        "--set", f"pinning.lookupTimeoutSeconds={given}",
    )  # fmt: skip
    found = re.search(r"name: IDMS_GUARD_PIN_TIMEOUT_SECONDS\n\s+value: \"([^\"]+)\"", output)
    assert found is not None
    assert Settings.from_env({"IDMS_GUARD_PIN_TIMEOUT_SECONDS": found[1]}).pin_timeout_seconds == (
        float(given)
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("abc", "does not match pattern"),
        ("1.5s", "does not match pattern"),
        ("0", "lookupTimeoutSeconds.*(exclusiveMinimum|must be > 0|above 0)"),
        ("0.0", "must be above 0"),
        ("4.5", "must be below webhooks.timeoutSeconds"),
    ],
)
def test_a_decimal_string_that_is_no_good_timeout_is_refused(
    helm: Helm, given: str, message: str
) -> None:
    with pytest.raises(HelmError, match=message):
        helm.run(
            "template", "guard", str(CHART), "--namespace", "idms-guard",
            "--set", f"pinning.lookupTimeoutSeconds={given}", "--set", "webhooks.timeoutSeconds=4",
        )  # fmt: skip
