"""Mirror-set files re-read as they change; a bad version never replaces a good one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import current_thread

import yaml

from tests.support.mirror_objects import entry, mirror_object
from webhook.index_sources import (
    Built,
    IndexHolder,
    MirrorSetFiles,
    MirrorSetSources,
    PreparedFiles,
)
from webhook.main import mirror_set_objects


def watched(path: Path) -> tuple[IndexHolder, MirrorSetFiles]:
    holder = IndexHolder()
    sources = MirrorSetSources(holder, cluster=False)
    return holder, MirrorSetFiles([str(path)], sources.files_changed, mirror_set_objects)


def test_a_changed_file_swaps_in_a_new_index(tmp_path: Path) -> None:
    path = tmp_path / "sets.yaml"
    path.write_text(yaml.safe_dump(mirror_object("idms", "a", [entry("quay.io/a", "m.local/a")])))
    holder, files = watched(path)
    assert files.refresh()
    path.write_text(yaml.safe_dump(mirror_object("idms", "a", [entry("quay.io/b", "m.local/b")])))
    assert files.refresh()
    assert [table.prefix for table in holder.current.tables] == ["quay.io/b"]
    assert holder.state.generation == 2


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    path = tmp_path / "sets.yaml"
    path.write_text(yaml.safe_dump(mirror_object("idms", "a", [entry("quay.io/a", "m.local/a")])))
    _, files = watched(path)
    assert files.refresh()
    assert not files.refresh()


def test_an_unusable_new_version_keeps_the_previous_index(tmp_path: Path) -> None:
    path = tmp_path / "sets.yaml"
    path.write_text(yaml.safe_dump(mirror_object("idms", "a", [entry("quay.io/a", "m.local/a")])))
    holder, files = watched(path)
    files.refresh()
    for broken in ("x: [unclosed\n", "x: " + "[" * 5000 + "]" * 5000 + "\n"):
        path.write_text(broken)
        assert not files.refresh()
        assert [table.prefix for table in holder.current.tables] == ["quay.io/a"]


def test_the_index_is_built_where_the_offload_puts_it(tmp_path: Path) -> None:
    path = tmp_path / "sets.yaml"
    path.write_text(yaml.safe_dump(mirror_object("idms", "a", [entry("quay.io/a", "m.local/a")])))
    builders: list[str] = []

    def on_a_thread(work: Callable[[], Built]) -> Built:
        with ThreadPoolExecutor(1, thread_name_prefix="builder") as pool:
            return pool.submit(lambda: (builders.append(current_thread().name), work())[1]).result()

    holder = IndexHolder()
    sources = MirrorSetSources(holder, cluster=False, offload=on_a_thread)
    assert MirrorSetFiles([str(path)], sources.files_changed, mirror_set_objects).refresh()
    assert [table.prefix for table in holder.current.tables] == ["quay.io/a"]
    assert len(builders) == 1
    assert builders[0].startswith("builder")


def test_a_worker_starts_from_the_files_and_index_the_master_prepared(tmp_path: Path) -> None:
    path = tmp_path / "sets.yaml"
    path.write_text(yaml.safe_dump(mirror_object("idms", "a", [entry("quay.io/a", "m.local/a")])))
    prepared = PreparedFiles.read([str(path)], mirror_set_objects).indexed()
    reads: list[object] = []

    def load(paths: Sequence[str]) -> list[object]:
        reads.append(paths)
        return mirror_set_objects(paths)

    holder = IndexHolder()
    sources = MirrorSetSources(holder, cluster=False, prepared=prepared)
    files = MirrorSetFiles([str(path)], sources.files_changed, load, 60, prepared)
    files.start()
    files.stop()
    assert reads == []
    assert prepared.built is not None
    assert holder.current is prepared.built[1]


def test_a_file_changed_since_the_master_read_it_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "sets.yaml"
    path.write_text(yaml.safe_dump(mirror_object("idms", "a", [entry("quay.io/a", "m.local/a")])))
    prepared = PreparedFiles.read([str(path)], mirror_set_objects).indexed()
    path.write_text(yaml.safe_dump(mirror_object("idms", "a", [entry("quay.io/longer", "m.l/b")])))
    holder = IndexHolder()
    sources = MirrorSetSources(holder, cluster=False, prepared=prepared)
    files = MirrorSetFiles([str(path)], sources.files_changed, mirror_set_objects, 60, prepared)
    files.start()
    files.stop()
    assert [table.prefix for table in holder.current.tables] == ["quay.io/longer"]
