"""Wiring: turns paths and settings into the core's inputs. The only module that knows both
the adapters and the core."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TextIO

from flask import Flask
from kubernetes.client import ApiClient

from webhook.adapters.http_app import AppSettings, create_app
from webhook.adapters.http_metrics import Metrics
from webhook.adapters.kube_secrets import PullSecretReader
from webhook.adapters.manifest_files import Document, parse_documents, read_documents
from webhook.adapters.mirror_watcher import MirrorSetWatcher, load_api_client
from webhook.adapters.registry import DockerConfig, RegistryClient, load_docker_config
from webhook.adapters.resolver import LookupFunction, TagResolver
from webhook.adapters.tls_certificates import (
    generate_ca,
    generate_serving_certificate,
    service_dns_names,
    write_certificate_files,
)
from webhook.config import Settings
from webhook.core.image_config_schema import KINDS as IMAGE_CONFIG_KINDS
from webhook.core.lookups import Lookup
from webhook.core.mirror_index import MirrorIndex
from webhook.core.mirror_set_schema import MirrorSetKind
from webhook.core.mirror_sets import MirrorSetConfig, flatten_lists, load_mirror_sets
from webhook.errors import KubeConfigError, MirrorSetFileError, RegistryConfigError, UsageError
from webhook.gunicorn_config import ServerOptions, WebhookServer, gunicorn_options
from webhook.index_sources import (
    FileSignature,
    IndexHolder,
    MirrorSetFiles,
    MirrorSetSources,
    PreparedFiles,
    file_signature,
)
from webhook.logs import configure_logging
from webhook.node_config import load_node_config, node_index
from webhook.pool_sources import PoolWatcher

log = logging.getLogger("idms_guard.registry")

EXAMPLE_MIRROR_SETS = "mirror-sets.yaml"
SAMPLE_REVIEW = "sample-review.json"


def example_mirror_sets_text() -> str:
    return resources.files("webhook.examples").joinpath(EXAMPLE_MIRROR_SETS).read_text()


def load_mirror_set_paths(
    paths: Iterable[str],
    stdin: TextIO | None = None,
    note: Callable[[str], None] = lambda _: None,
) -> MirrorSetConfig:
    return load_mirror_sets(mirror_set_objects(paths, stdin, note))


def mirror_set_objects(
    paths: Iterable[str],
    stdin: TextIO | None = None,
    note: Callable[[str], None] = lambda _: None,
) -> list[object]:
    """Mirror-set objects from files and directories.

    A document of another kind is an error when its file was named, and is skipped with a
    `note` when it was found in a directory: oc-mirror's `cluster-resources/` puts
    CatalogSources beside the IDMS/ITMS it writes, and that directory is what people pass.
    """
    kept: list[object] = []
    for document in read_documents(paths, stdin, positions=False):
        for body in flatten_lists([document.body]):
            if _is_mirror_set(body):
                kept.append(body)
            elif document.found_in_directory:
                note(f"{_where(document)}: skipped {_kind_of(body)} (not a mirror set)")
            else:
                raise MirrorSetFileError(
                    f"{_where(document)}: {_kind_of(body)} is not a mirror set; expected "
                    + ", ".join([*(kind.kind for kind in MirrorSetKind), *IMAGE_CONFIG_KINDS])
                    + " (name the directory instead to skip other kinds)"
                )
    return kept


def load_example_mirror_sets() -> MirrorSetConfig:
    documents = parse_documents(example_mirror_sets_text(), EXAMPLE_MIRROR_SETS)
    return load_mirror_sets(document.body for document in documents)


def _is_mirror_set(body: object) -> bool:
    """A mirror set, or the Image/ClusterVersion objects that shape the same node files."""
    kind = body.get("kind") if isinstance(body, dict) else None
    return isinstance(kind, str) and (
        MirrorSetKind.for_kind(kind) is not None or kind in IMAGE_CONFIG_KINDS
    )


def _kind_of(body: object) -> str:
    if not isinstance(body, dict):
        return f"a {type(body).__name__} (not an object)"
    kind = body.get("kind")
    return f"kind {kind!r}" if kind else "a document without kind"


def _where(document: Document) -> str:
    return f"{document.path}:{document.line}"


def build_app(settings: Settings, prepared: PreparedFiles | None = None) -> Flask:
    """The Flask app of one gunicorn worker, with its own index, watches and resolver;
    `prepared`: the mirror-set files as the master read them."""
    configure_logging()
    holder = IndexHolder()
    cluster = cluster_client(settings)

    def insecure(name: str) -> bool:  # Image/cluster insecureRegistries, as of now
        return holder.current.insecure(name)

    scoped = (
        (lambda secrets: secret_scoped_lookup(settings, secrets, insecure)) if cluster else None
    )
    resolver = TagResolver(
        ReloadingRegistryClient(settings, insecure=insecure).manifest_digest,
        scoped_lookup=scoped,
        lookup_timeout=settings.registry_timeout_seconds,
    )
    holder.on_swap(lambda _state: resolver.flush())
    from webhook.gunicorn_worker import off_the_loop  # gevent: imported by `serve` only

    sources = MirrorSetSources(holder, cluster is not None, off_the_loop, prepared)
    if settings.node_config:
        watch_node_config(settings, holder)
    elif settings.mirror_set_paths:
        files = MirrorSetFiles(
            settings.mirror_set_paths,
            sources.files_changed,
            lambda paths: mirror_set_objects(paths),
            settings.mirror_set_poll_seconds,
            prepared,
        )
        files.start()
    last_sync = None
    metrics = Metrics()
    pools = None
    if cluster is not None and not settings.node_config:
        pools = PoolWatcher(
            cluster,
            lambda: holder.current if holder.ready else None,
            metrics.pools,
            settings.pool_poll_seconds,
        )
        holder.on_swap(lambda _state: pools.poke() if pools else None)
        pools.start()
        watcher = MirrorSetWatcher(cluster, sources.cluster_changed)
        watcher.start()
        last_sync = lambda: watcher.last_sync  # noqa: E731
    app_settings = AppSettings(
        settings.policy,
        max_body_bytes=settings.max_body_bytes,
        fail_closed=settings.fail_closed,
        pin_timeout=settings.pin_timeout_seconds,
        keep_tag=settings.pin_keep_tag,
        resolve_from_source=settings.resolve_from_source,
        verify_mirror=settings.verify_mirror,
    )
    reader = PullSecretReader(cluster) if cluster and settings.pod_pull_secrets else None
    return create_app(
        app_settings,
        holder,
        resolver,
        metrics=metrics,
        last_sync=last_sync,
        pull_secrets=reader.read if reader else None,
        rollout=(lambda: pools.differing) if pools else None,
    )


def watch_node_config(settings: Settings, holder: IndexHolder) -> MirrorSetFiles[MirrorIndex]:
    """The node's files are the whole truth: no mirror sets from the cluster or files."""

    def swap(index: MirrorIndex) -> None:
        state = holder.swap_index(index, len(index))
        logging.getLogger("idms_guard.mirror_sets").info(
            "node files loaded: generation %d, %d tables", state.generation, len(index)
        )

    files = MirrorSetFiles(
        [settings.node_config],
        swap,
        lambda paths: node_index(paths[0]),
        settings.mirror_set_poll_seconds,
    )
    files.start()
    return files


def secret_scoped_lookup(
    settings: Settings,
    secrets: Sequence[str],
    insecure: Callable[[str], bool] | None = None,
) -> LookupFunction:
    """A registry client whose credentials are the pod's pull secrets, then the global ones.
    A secret that is not a readable dockerconfigjson is left out (its name was logged)."""
    configs = []
    for number, text in enumerate(secrets):
        try:
            configs.append(DockerConfig.from_json(text, origin=f"pull secret #{number + 1}"))
        except RegistryConfigError as error:
            logging.getLogger("idms_guard.pull_secrets").warning("%s", error)
    if settings.registry_auth:
        configs.append(load_docker_config(Path(settings.registry_auth)))
    ca_bundle = Path(settings.registry_ca) if settings.registry_ca else None
    client = RegistryClient(
        DockerConfig.merged(configs),
        ca_bundle,
        timeout=settings.registry_timeout_seconds,
        insecure=insecure,
    )
    return client.manifest_digest


def cluster_client(settings: Settings) -> ApiClient | None:
    """The cluster to watch, or None for mirror-set files alone.

    An explicit `--kubeconfig` that does not work is an error; otherwise, with files to
    fall back on, a missing cluster connection only means "files alone" (a laptop, CI)."""
    if not settings.watch_cluster:
        return None
    try:
        return load_api_client(settings.kubeconfig or None)
    except KubeConfigError:
        if settings.kubeconfig or not (settings.mirror_set_paths or settings.node_config):
            raise
        logging.getLogger("idms_guard.watch").info(
            "no cluster connection; judging with the mirror-set files alone"
        )
        return None


def registry_client(
    settings: Settings, insecure: Callable[[str], bool] | None = None
) -> RegistryClient:
    """Raises RegistryConfigError naming the file when the auth file or CA bundle is unusable.
    `insecure(name)` says which repositories the node reaches without TLS verification."""
    credentials = (
        load_docker_config(Path(settings.registry_auth)) if settings.registry_auth else None
    )
    ca_bundle = Path(settings.registry_ca) if settings.registry_ca else None
    timeout = settings.registry_timeout_seconds
    return RegistryClient(credentials, ca_bundle, timeout=timeout, insecure=insecure)


class ReloadingRegistryClient:
    """The client for `--registry-auth` and `--registry-ca`, rebuilt when either file
    changes: OpenShift's global pull secret is edited in place to add mirror credentials,
    and a mounted Secret follows within a minute. A broken new version keeps the old client
    (one warning), as for certificates."""

    def __init__(
        self,
        settings: Settings,
        check_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        insecure: Callable[[str], bool] | None = None,
    ) -> None:
        self._settings = settings
        self._insecure = insecure
        self._interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._signature = self._files_signature()
        self._client = registry_client(settings, insecure)
        self._checked_at = clock()

    def manifest_digest(self, pull_spec: str, timeout: float | None = None) -> Lookup:
        return self._current().manifest_digest(pull_spec, timeout)

    def _current(self) -> RegistryClient:
        with self._lock:
            if self._clock() - self._checked_at >= self._interval:
                self._checked_at = self._clock()
                signature = self._files_signature()
                if signature != self._signature:
                    self._signature = signature
                    try:
                        self._client = registry_client(self._settings, self._insecure)
                        log.info("registry credentials or CA reloaded")
                    except RegistryConfigError as error:
                        log.warning("registry files not reloaded, keeping the previous: %s", error)
            return self._client

    def _files_signature(self) -> tuple[FileSignature, ...]:
        paths = (self._settings.registry_auth, self._settings.registry_ca)
        return tuple(file_signature(path) if path else None for path in paths)


def check_port_free(host: str, port: int) -> None:
    """gunicorn would retry a taken port five times, over lines of log; one line is kinder."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise UsageError(
                f"cannot listen on {host}:{port}: {error.strerror or error}; choose --port"
            ) from None


def serve(settings: Settings, options: ServerOptions) -> None:
    """Check every input once in the master, so a mistake is one clear line, not a worker
    that dies at boot; then run gunicorn. Mirror-set files read here are handed to the
    workers (and, without a cluster, their index too), so N workers do not build it N times."""
    if settings.node_config and settings.mirror_set_paths:
        raise UsageError("use either --node-config or --mirror-sets, not both")
    if settings.node_config:
        load_node_config(settings.node_config)
    prepared = None
    if settings.mirror_set_paths:
        prepared = PreparedFiles.read(settings.mirror_set_paths, mirror_set_objects)
    try:
        cluster = cluster_client(settings)
    except KubeConfigError as error:
        if settings.kubeconfig:
            raise
        raise UsageError(f"serve needs a cluster to watch or --mirror-sets PATH; {error}") from None
    if cluster is None and not (settings.mirror_set_paths or settings.node_config):
        raise UsageError("serve needs a cluster to watch, or --mirror-sets PATH")
    registry_client(settings).close()
    check_port_free(options.host, options.port)
    if prepared is not None and cluster is None:
        prepared = prepared.indexed()
    WebhookServer(lambda: build_app(settings, prepared), gunicorn_options(options)).run()


@dataclass(frozen=True)
class Demo:
    directory: Path
    settings: Settings
    options: ServerOptions
    curl: str


DEMO_SERVICE, DEMO_NAMESPACE, DEMO_PORT = "idms-guard", "idms-guard", 8443


def prepare_demo(directory: Path, port: int = DEMO_PORT) -> Demo:
    """A throwaway CA and certificate for the in-cluster name, the example mirror sets and a
    sample review, all in `directory`, plus the curl command that plays the API server."""
    ca = generate_ca("idms-guard-demo-ca", days=1)
    names = [*service_dns_names(DEMO_SERVICE, DEMO_NAMESPACE), "localhost"]
    serving = generate_serving_certificate(ca, names, days=1, ip_addresses=["127.0.0.1"])
    files = write_certificate_files(directory, ca, serving)
    mirror_sets = directory / EXAMPLE_MIRROR_SETS
    mirror_sets.write_text(example_mirror_sets_text())
    review = directory / SAMPLE_REVIEW
    review.write_text(resources.files("webhook.examples").joinpath(SAMPLE_REVIEW).read_text())
    host = f"{DEMO_SERVICE}.{DEMO_NAMESPACE}.svc"
    curl = (
        f"curl -sS --cacert {files['ca.crt']} --resolve {host}:{port}:127.0.0.1 "
        f"-H 'Content-Type: application/json' --data @{review} "
        f"https://{host}:{port}/validate/warn"
    )
    settings = Settings(mirror_set_paths=(str(mirror_sets),), watch_cluster=False)
    options = ServerOptions(files["tls.crt"], files["tls.key"], host="127.0.0.1", port=port)
    return Demo(directory, settings, options, curl)
