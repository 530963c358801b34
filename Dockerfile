# idms-guard: the admission webhook, served by gunicorn through `idms-guard serve`.
#
#   podman build -t idms-guard:0.1.0 .            (or: docker build / buildah bud)
#
# Two stages. `build` installs the package and its pinned, hash-checked dependencies
# (requirements.lock, see .ci/lock) into a virtual environment with pip; `runtime` is
# distroless (Python, glibc and CA certificates: no shell, no package manager, no pip, no
# compiler) and only receives that environment. Both are Debian 12 with its Python 3.11 at
# /usr/bin/python3, which is why the environment works unchanged after the copy: change both
# images together (a UBI pair such as ubi9/python-311 + ubi9 with python3.11 works the same
# way).
#
# On a restricted network (README, "The image"): take both base images from the mirror
# (--build-arg BUILD_IMAGE=... --build-arg RUNTIME_IMAGE=...), reach Debian and PyPI through
# the proxy (HTTP_PROXY/HTTPS_PROXY/NO_PROXY build args) or a PyPI mirror
# (--build-arg PIP_INDEX_URL=...), and give a TLS-intercepting proxy's CA to the build stage:
# --secret id=extra-ca,src=proxy-ca.pem (PEM, one or more certificates). It is trusted by apt
# and pip in the build stage only; the image does not contain it.
#
# The chart's security context applies as is: numeric non-root USER (OpenShift replaces it
# with a UID of the namespace's range, group 0, which can read everything here), read-only
# root filesystem (bytecode is compiled at build time; HOME and /tmp are volumes).

ARG BUILD_IMAGE=docker.io/library/debian:12-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/python3-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
RUN --mount=type=secret,id=extra-ca,target=/run/secrets/extra-ca \
    set -eu; \
    extra=/run/secrets/extra-ca; \
    trust=""; \
    if [ -s "$extra" ]; then trust="-o Acquire::https::CAInfo=$extra"; fi; \
    apt-get $trust update; \
    apt-get $trust install -y --no-install-recommends python3 python3-venv ca-certificates; \
    rm -rf /var/lib/apt/lists/*; \
    if [ -s "$extra" ]; then cat "$extra" >>/etc/ssl/certs/ca-certificates.crt; fi
ARG PIP_INDEX_URL
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN python3 -m venv /opt/idms-guard
WORKDIR /src
# The locked dependencies first, so that a change in webhook/ does not redo this layer.
COPY requirements.lock ./
RUN /opt/idms-guard/bin/pip install --no-compile --no-deps --require-hashes --only-binary=:all: \
      -r requirements.lock
COPY pyproject.toml README.md ./
COPY webhook ./webhook
RUN /opt/idms-guard/bin/pip install --no-compile --no-deps --no-build-isolation --no-index . \
 && /opt/idms-guard/bin/pip uninstall -y pip setuptools wheel \
 && /opt/idms-guard/bin/python -m compileall -q /opt/idms-guard \
 && /opt/idms-guard/bin/idms-guard --help >/dev/null

FROM ${RUNTIME_IMAGE} AS runtime
ARG RUNTIME_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="idms-guard" \
      org.opencontainers.image.description="Admission webhook that keeps pods on disconnected OpenShift/Kubernetes clusters pulling through their IDMS/ITMS/ICSP mirrors" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
COPY --from=build /opt/idms-guard /opt/idms-guard
ENV PATH=/opt/idms-guard/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/opt/idms-guard/bin/idms-guard", "serve"]
CMD ["--cert", "/etc/idms-guard/tls/tls.crt", "--key", "/etc/idms-guard/tls/tls.key", "--port", "8443"]
