"""Mirror-set files re-read as they change; a bad version never replaces a good one."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.mirror_objects import entry, mirror_object
from webhook.index_sources import IndexHolder, MirrorSetFiles, MirrorSetSources
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
