# `helm test`: ask the API server, as a user would, to create a pod with a tagged image in
# the chart's test namespace (labelled idms-guard.io/mode=warn) as a server-side dry run,
# and expect idms-guard's warning about that image to come back. So the test passes only
# when the API server itself reaches the webhook: its caBundle trusts the serving
# certificate, the Service has ready endpoints, no NetworkPolicy keeps the API server out.
# Nothing is created (dryRun=All). Runs with the webhook image's own python3 (standard
# library only), so a disconnected cluster needs no other image. Settings come from the
# environment (see the test pod).
import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.request

SA_DIR = os.environ.get(
    "IDMS_GUARD_SERVICEACCOUNT_DIR", "/var/run/secrets/kubernetes.io/serviceaccount"
)
NAMESPACE = os.environ["IDMS_GUARD_TEST_NAMESPACE"]
IMAGE = os.environ["IDMS_GUARD_TEST_IMAGE"]
ATTEMPTS = int(os.environ.get("IDMS_GUARD_ATTEMPTS", "10"))
host = os.environ["KUBERNETES_SERVICE_HOST"]
port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
if ":" in host:  # IPv6
    host = f"[{host}]"
URL = f"https://{host}:{port}/api/v1/namespaces/{NAMESPACE}/pods?dryRun=All"

pod = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "idms-guard-helm-test-probe", "namespace": NAMESPACE},
    "spec": {
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "probe",
                "image": IMAGE,
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    },
}
context = ssl.create_default_context(cafile=os.path.join(SA_DIR, "ca.crt"))


def warnings_of(headers):
    """The texts of `Warning: 299 - "text"` headers, as UTF-8 (http.client reads latin-1)."""
    texts = []
    for value in headers.get_all("Warning") or []:
        value = value.encode("latin-1", "replace").decode("utf-8", "replace")
        text = value.split(" ", 2)[-1].strip()
        if len(text) > 1 and text.startswith('"') and text.endswith('"'):
            text = re.sub(r"\\(.)", r"\1", text[1:-1])  # the API server escapes " and \
        texts.append(text)
    return texts


def attempt():
    """(done, message): done when the answer settles the test either way."""
    with open(os.path.join(SA_DIR, "token")) as file:  # re-read: kubelet rotates it
        token = file.read().strip()
    request = urllib.request.Request(
        URL,
        data=json.dumps(pod).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as reply:
            warnings = warnings_of(reply.headers)
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")
        try:
            message = json.loads(body).get("message", body)
        except ValueError:
            message = body
        return False, f"the API server answered {error.code}: {message}"
    except (OSError, ValueError) as error:  # URLError and ssl errors are OSErrors
        return False, f"{URL}: {error}"
    ours = [text for text in warnings if IMAGE in text]
    if ours:
        return True, f"ok: the API server called the webhook; it warned: {ours[0]}"
    seen = "; ".join(warnings) or "none"
    return False, (
        f"the dry run of a pod with {IMAGE} in namespace {NAMESPACE} came back without "
        f"idms-guard's warning (warnings: {seen}): the API server did not reach the webhook "
        "(check the webhook configuration's caBundle, the Service's endpoints, and "
        "NetworkPolicies; the warn entry's failurePolicy Ignore hides the error)"
    )


for number in range(1, ATTEMPTS + 1):
    ok, message = attempt()
    print(f"attempt {number}/{ATTEMPTS}: {message}" if not ok else message, flush=True)
    if ok:
        sys.exit(0)
    if number < ATTEMPTS:
        time.sleep(3)
sys.exit(1)
