"""Build the webhook image with podman the way a platform team does, on a plain Debian host.

Everything here is what the README's "The image" section describes, step by step:

- podman runs with a `containers.conf` of its own (`CONTAINERS_CONF`): the `runc` runtime
  (Debian 12's `crun` refuses hosts with a hybrid cgroup hierarchy) and `default_ulimits`
  equal to the host's own limits, since a container cannot raise `nofile` or `nproc` above
  the host's hard limit without CAP_SYS_RESOURCE.
- The two base images are made locally with `mmdebstrap` from the Debian archive that the
  host's apt is configured with, and `podman import`: a `debian:12-slim` stand-in
  (variant `minbase`) for the build stage and a distroless stand-in (variant `extract`:
  Python, CA certificates, tzdata, netbase, libstdc++ and libgomp as in distroless's cc
  layer, the `nonroot` user 65532, no shell) for the runtime stage. Each is tagged with a
  hash of its recipe and made only when missing.
- The image is built from the Dockerfile with both as `BUILD_IMAGE` / `RUNTIME_IMAGE`,
  and the host's CA bundle given as the `extra-ca` secret, as a build behind a
  TLS-intercepting proxy needs.

`python3 -m tests.image.podman [TAG]` does all of it from the repository's root.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import resource
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).parents[2]
TEST_TAG = "localhost/idms-guard:image-test"
BASE_REPOSITORY = "localhost/idms-guard-test-base"
DEBIAN_RELEASE = "bookworm"  # Debian 12: the Dockerfile's default bases are Debian 12
STATE = Path(tempfile.gettempdir()) / "idms-guard-image-test"
NPROC = 4096  # counts threads too: plenty for gunicorn's workers and threads
MAX_NOFILE = 1 << 20  # podman's own default, used where the host allows more (or no limit)
TIMEOUT = 900.0  # a bound for one podman or mmdebstrap command, never an expectation

NONROOT_HOOK = """
set -e
mkdir -p "$1/tmp" "$1/home/nonroot" "$1/etc/ssl/certs"
chmod 1777 "$1/tmp"
chown 65532:65532 "$1/home/nonroot"
printf '%s\\n' 'root:x:0:0:root:/root:/sbin/nologin' \
  'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
  'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$1/etc/passwd"
printf '%s\\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$1/etc/group"
cat "$1"/usr/share/ca-certificates/mozilla/*.crt >"$1/etc/ssl/certs/ca-certificates.crt"
"""
"""What Debian's maintainer scripts (not run by variant `extract`) and distroless add."""

SLIM = ["--dpkgopt=path-exclude=/usr/share/" + part for part in ("doc/*", "man/*", "info/*")]


@dataclass(frozen=True)
class Base:
    """One stand-in base image: how mmdebstrap makes it and how `podman import` tags it."""

    name: str
    variant: str
    packages: tuple[str, ...] = ()
    hook: str = ""
    changes: tuple[str, ...] = ()

    def tag(self, sources: list[str]) -> str:
        recipe = repr((self, sources)).encode()
        return f"{BASE_REPOSITORY}/{self.name}-{hashlib.sha256(recipe).hexdigest()[:12]}"


BUILD_BASE = Base(
    "debian:12-slim",
    "minbase",
    changes=("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
)
RUNTIME_BASE = Base(
    "distroless-python3-debian12:nonroot",
    "extract",
    # distroless's python3 image sits on its cc image: libgcc, libgomp and libstdc++ (for
    # C++ extensions such as gevent's greenlet) come with it.
    packages=("python3", "ca-certificates", "tzdata", "netbase", "libstdc++6", "libgomp1"),
    hook=NONROOT_HOOK,
    changes=("USER 65532:65532", "WORKDIR /home/nonroot"),
)


class PodmanError(Exception):
    """podman failed; the message has its command line and the end of its stderr."""


class NoEngineError(Exception):
    """No container can be built or run here; the message says why."""


def host_limits() -> list[str]:
    """`nofile` as this process has it and `nproc` at most NPROC: a container cannot go
    higher than the runtime's own hard limits, and podman's runtime may run with a lower
    `nproc` than this shell (it was kernel.pid_max on a test host)."""
    nofile, nproc = (
        min(MAX_NOFILE if hard == resource.RLIM_INFINITY else hard, cap)
        for hard, cap in (
            (resource.getrlimit(resource.RLIMIT_NOFILE)[1], MAX_NOFILE),
            (resource.getrlimit(resource.RLIMIT_NPROC)[1], NPROC),
        )
    )
    return [f"nofile={nofile}:{nofile}", f"nproc={nproc}:{nproc}"]


def containers_conf(directory: Path) -> Path:
    """runc, and the host's ulimits for every container (builds take them as --ulimit)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "containers.conf"
    quoted = ", ".join(f'"{limit}"' for limit in host_limits())
    path.write_text(f'[containers]\ndefault_ulimits = [{quoted}]\n\n[engine]\nruntime = "runc"\n')
    return path


@dataclass(frozen=True)
class Podman:
    """The `podman` command with this project's containers.conf."""

    conf: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.conf)}

    def run(self, *args: str, timeout: float = TIMEOUT) -> str:
        completed = subprocess.run(
            ["podman", *args], capture_output=True, env=self.env(), timeout=timeout, check=False
        )
        if completed.returncode != 0:
            detail = completed.stderr.decode(errors="replace").strip()[-4000:]
            raise PodmanError(f"podman {' '.join(args)}: exit {completed.returncode}\n{detail}")
        return completed.stdout.decode(errors="replace")

    def image_id(self, image: str) -> str | None:
        try:
            return self.run("image", "inspect", "--format", "{{.Id}}", image, timeout=60).strip()
        except PodmanError:
            return None


def engine(state: Path = STATE) -> Podman:
    """podman, once it has shown it can work here; else NoEngineError with the reason."""
    if shutil.which("podman") is None:
        raise NoEngineError("podman is not installed (Debian: podman runc)")
    if shutil.which("runc") is None:
        raise NoEngineError("runc is not installed (Debian: runc)")
    podman = Podman(containers_conf(state))
    try:
        podman.run("info", timeout=120)
    except (PodmanError, subprocess.TimeoutExpired) as error:
        raise NoEngineError(f"podman cannot run here: {error}") from error
    return podman


def debian_sources(release: str = DEBIAN_RELEASE) -> list[str]:
    """The host's Debian archive as sources.list lines for `release`, suites mapped alike
    (bookworm-security for trixie-security); apt knows the origin once it has updated."""
    listed = subprocess.run(
        ["apt-get", "indextargets", "--format",
         "$(TARGET_OF) $(ORIGIN) $(REPO_URI) $(RELEASE)"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    lines = []
    for entry in sorted(set(listed.splitlines())):
        fields = entry.split()
        if len(fields) == 4 and fields[:2] == ["deb", "Debian"]:
            _, _, uri, suite = fields
            _, dash, pocket = suite.partition("-")  # bookworm-security: "-", "security"
            line = f"deb {uri} {release}{dash}{pocket} main"
            lines += [] if line in lines else [line]
    if not lines:
        raise NoEngineError(
            "apt knows no Debian archive to make the base images from (run `apt-get update`)"
        )
    return lines


def ensure_base(podman: Podman, base: Base, sources: list[str]) -> str:
    """The base image's tag, made with mmdebstrap and imported unless it exists already."""
    tag = base.tag(sources)
    if podman.image_id(tag) is not None:
        return tag
    if shutil.which("mmdebstrap") is None:
        raise NoEngineError("mmdebstrap is not installed (Debian: mmdebstrap)")
    with tempfile.TemporaryDirectory(prefix="idms-guard-base-") as directory:
        tarball = Path(directory) / "rootfs.tar"
        include = [f"--include={','.join(base.packages)}"] if base.packages else []
        hook = [f"--customize-hook={base.hook}"] if base.hook else []
        subprocess.run(
            ["mmdebstrap", "--quiet", "--mode=root", f"--variant={base.variant}", *SLIM,
             *include, *hook, DEBIAN_RELEASE, str(tarball), *sources],
            check=True, timeout=TIMEOUT,
        )  # fmt: skip
        changes = [argument for change in base.changes for argument in ("--change", change)]
        podman.run("import", *changes, str(tarball), tag)
    return tag


def git_revision() -> str:
    """The commit the image is built from (its revision label), or "unknown" outside git."""
    found = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return found or "unknown"


@contextlib.contextmanager
def build_lock(state: Path = STATE) -> Iterator[None]:
    """One build at a time on a machine: the second finds the first's layers in the cache
    (.ci/run starts one in the background that the test's build then waits for)."""
    state.mkdir(parents=True, exist_ok=True)
    with (state / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_image(podman: Podman, tag: str) -> None:
    """The Dockerfile, with the local bases and the host's CA bundle as the extra CA."""
    with build_lock():
        sources = debian_sources()
        build_base = ensure_base(podman, BUILD_BASE, sources)
        runtime_base = ensure_base(podman, RUNTIME_BASE, sources)
        previous = podman.image_id(tag)
        podman.run("build", *build_args(build_base, runtime_base), "--tag", tag, str(REPO))
    if previous not in (None, podman.image_id(tag)):
        # The image this tag named before, also named by the digest a test pulled (so it
        # takes --force): what a changed webhook/ left behind. The build stage's layers
        # stay, as the cache of the next build.
        with contextlib.suppress(PodmanError):
            podman.run("image", "rm", "--force", previous)


def build_args(build_base: str, runtime_base: str) -> list[str]:
    revision = git_revision()
    secret = []
    host_bundle = ssl.get_default_verify_paths().cafile
    if host_bundle and Path(host_bundle).is_file():
        secret = ["--secret", f"id=extra-ca,src={host_bundle}"]
    return [
        "--network=host", "--layers", *secret,
        *[argument for limit in host_limits() for argument in ("--ulimit", limit)],
        "--build-arg", f"BUILD_IMAGE={build_base}",
        "--build-arg", f"RUNTIME_IMAGE={runtime_base}",
        "--build-arg", f"REVISION={revision}",
        # buildah 1.28 takes a cached LABEL step although REVISION changed: say it again
        "--label", f"org.opencontainers.image.revision={revision}",
    ]  # fmt: skip


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print(f"usage: python3 -m tests.image.podman [TAG (default {TEST_TAG})]", file=sys.stderr)
        return 2
    tag = argv[0] if argv else TEST_TAG
    try:
        build_image(engine(), tag)
    except (NoEngineError, PodmanError) as error:
        print(f"cannot build: {error}", file=sys.stderr)
        return 1
    print(f"built {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
