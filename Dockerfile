# syntax=docker/dockerfile:1
#
# idms-guard: the admission webhook, served by gunicorn through `idms-guard serve`.
#
#   docker build -t idms-guard:0.1.0 .            (or: podman build / buildah bud)
#
# Two stages. `build` installs the package and its dependencies into a virtual environment
# with pip; `runtime` is distroless (Python, glibc and CA certificates: no shell, no package
# manager, no pip, no compiler) and only receives that environment. Both are Debian 12 with
# its Python 3.11 at /usr/bin/python3, which is why the environment works unchanged after
# the copy: change both images together (a UBI pair such as ubi9/python-311 + ubi9 with
# python3.11 works the same way).
#
# The chart's security context applies as is: numeric non-root USER (OpenShift replaces it
# with a UID of the namespace's range, group 0, which can read everything here), read-only
# root filesystem (bytecode is compiled at build time; HOME and /tmp are volumes).

ARG BUILD_IMAGE=docker.io/library/debian:12-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/python3-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/idms-guard
WORKDIR /src
# Metadata first, so that a change in webhook/ does not redo the dependency layer's cache.
COPY pyproject.toml README.md ./
COPY webhook ./webhook
RUN /opt/idms-guard/bin/pip install --no-compile . \
 && /opt/idms-guard/bin/pip uninstall -y pip setuptools \
 && /opt/idms-guard/bin/python -m compileall -q /opt/idms-guard \
 && /opt/idms-guard/bin/idms-guard --help >/dev/null

FROM ${RUNTIME_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="idms-guard" \
      org.opencontainers.image.description="Admission webhook that keeps pods on disconnected OpenShift/Kubernetes clusters pulling through their IDMS/ITMS/ICSP mirrors" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/python3-debian12:nonroot"
COPY --from=build /opt/idms-guard /opt/idms-guard
ENV PATH=/opt/idms-guard/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/opt/idms-guard/bin/idms-guard", "serve"]
CMD ["--cert", "/etc/idms-guard/tls/tls.crt", "--key", "/etc/idms-guard/tls/tls.key", "--port", "8443"]
