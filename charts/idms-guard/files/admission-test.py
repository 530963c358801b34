# `helm test`: play the API server once. Send a sample AdmissionReview through the Service
# to /validate/audit, verify the serving certificate for <service>.<namespace>.svc against
# the webhook's CA (as the API server does), and expect "allowed": true for the same uid.
# Runs with the webhook image's own python3 (standard library only), so a disconnected
# cluster needs no other image. Settings come from the environment (see the test pod).
import json
import os
import ssl
import sys
import time
import urllib.request
import uuid

URL = os.environ["IDMS_GUARD_URL"]
CA_FILE = os.environ["IDMS_GUARD_CA_FILE"]
ATTEMPTS = int(os.environ.get("IDMS_GUARD_ATTEMPTS", "10"))

uid = str(uuid.uuid4())
pod = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "idms-guard-helm-test", "namespace": "idms-guard-helm-test"},
    "spec": {"containers": [{"name": "app", "image": "quay.io/idms-guard/helm-test:1.0"}]},
}
review = {
    "apiVersion": "admission.k8s.io/v1",
    "kind": "AdmissionReview",
    "request": {
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "idms-guard-helm-test",
        "namespace": "idms-guard-helm-test",
        "operation": "CREATE",
        "userInfo": {"username": "system:serviceaccount:helm:test"},
        "object": pod,
        "oldObject": None,
        "dryRun": True,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    },
}
context = ssl.create_default_context(cafile=CA_FILE)
request = urllib.request.Request(
    URL,
    data=json.dumps(review).encode(),
    headers={"Content-Type": "application/json"},
    method="POST",
)
for attempt in range(1, ATTEMPTS + 1):
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as reply:
            answer = json.load(reply)
        break
    except (OSError, ValueError) as error:  # URLError and ssl errors are OSErrors
        print(f"attempt {attempt}/{ATTEMPTS}: {URL}: {error}", flush=True)
        if attempt == ATTEMPTS:
            sys.exit(1)
        time.sleep(3)
response = answer.get("response") or {}
if response.get("uid") != uid or response.get("allowed") is not True:
    print(f"unexpected answer from {URL}: {json.dumps(answer)}")
    sys.exit(1)
print(f"ok: {URL} answered allowed=true for review {uid}")
