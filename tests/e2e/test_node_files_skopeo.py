"""Hand-written node files, judged by us and by the real containers/image (skopeo).

The configurations are ones the machine-config operator never writes — a `location`
apart from its `prefix`, mirrors for every pull, `mirror-by-digest-only`, `blocked`
tables, wildcards, drop-ins that replace tables of the main file — so this is what
checks `read_node_registries` and `MirrorIndex` on MicroShift-style files. skopeo reads
the drop-ins from its private home's per-user `registries.conf.d`, after the main file,
in name order, as CRI-O reads `/etc/containers/registries.conf.d`.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.e2e.test_skopeo_oracle import DIGEST, M1, M2, M3, SRC, PullOutcome, skopeo
from tests.support.skopeo_oracle import SkopeoOracle
from webhook.core.image_reference import runtime_image
from webhook.core.mirror_index import MirrorIndex
from webhook.core.node_registries import NodeFile, read_node_registries
from webhook.errors import NodeConfigError

__all__ = ["skopeo"]  # the fixture, shared with the objects' differential

pytestmark = pytest.mark.skopeo

PREFIXES = (SRC, f"{SRC}/team", f"{SRC}/team/app", f"{M1}/ns", "*.0.0.2")
LOCATIONS = (None, f"{M1}/ns", f"{M2}/elsewhere", f"{SRC}/team")
MIRRORS = (f"{M2}/m", M3, "127.0.0.6", f"{SRC}/mirror", f"{M1}/ns", f"{M1}/ns/mirror")
MODES = (None, "all", "digest-only", "tag-only")
REPOSITORIES = (f"{SRC}/team/app", f"{SRC}/team/app/sub", f"{SRC}/other/app", f"{M1}/ns/app")


@st.composite
def registry_table(draw: st.DrawFn) -> dict[str, Any]:
    prefix = draw(st.sampled_from(PREFIXES))
    location = draw(st.sampled_from(LOCATIONS))
    table: dict[str, Any] = {"prefix": prefix} if location or prefix.startswith("*") else {}
    table["location"] = location or ("" if prefix.startswith("*") else prefix)
    table["blocked"] = draw(st.booleans())
    by_digest_only = draw(st.integers(0, 3)) == 0
    table["mirror-by-digest-only"] = by_digest_only
    mirrors = draw(st.lists(st.sampled_from(MIRRORS), max_size=3, unique=True))
    table["mirror"] = [
        {
            "location": m,
            "pull-from-mirror": None if by_digest_only else draw(st.sampled_from(MODES)),
        }
        for m in mirrors
    ]
    return table


def toml_text(tables: list[dict[str, Any]]) -> str:
    lines = []
    for table in tables:
        lines.append("[[registry]]")
        for key in ("prefix", "location"):
            if table.get(key):
                lines.append(f'{key} = "{table[key]}"')
        for key in ("blocked", "mirror-by-digest-only"):
            if table[key]:
                lines.append(f"{key} = true")
        for mirror in table["mirror"]:
            lines += ["[[registry.mirror]]", f'location = "{mirror["location"]}"']
            if mirror["pull-from-mirror"]:
                lines.append(f'pull-from-mirror = "{mirror["pull-from-mirror"]}"')
    return "\n".join(lines) + "\n"


files = st.lists(st.lists(registry_table(), min_size=1, max_size=3), min_size=1, max_size=3)


@settings(derandomize=True, max_examples=150, deadline=None, database=None)
@given(
    texts=files.map(lambda found: [toml_text(tables) for tables in found]),
    repository=st.sampled_from(REPOSITORIES),
    suffix=st.sampled_from((f"@{DIGEST}", ":v1")),
)
def test_node_files_pull_as_skopeo_pulls(
    skopeo: SkopeoOracle, texts: list[str], repository: str, suffix: str
) -> None:
    image = repository + suffix
    drop_ins = {f"{n:02d}-generated.conf": text for n, text in enumerate(texts[1:], 1)}
    node_files = [NodeFile("registries.conf", texts[0])]
    node_files += [NodeFile(f"registries.conf.d/{name}", text) for name, text in drop_ins.items()]
    pull = skopeo.pull(texts[0], image, drop_ins)
    try:
        node = read_node_registries(node_files)
    except NodeConfigError as error:
        refusal = str(error)
    else:
        refusal = None
    if refusal is not None:
        # A configuration we refuse is one containers/image refuses before any attempt.
        assert pull.attempts == (), refusal
        assert pull.fatal, refusal
        event("refused by both")
        return
    index = MirrorIndex(node.tables, node.search_registries)
    reference = runtime_image(image).references[0]
    ours = PullOutcome.of_plan(index, index.candidates(reference))
    assert ours == PullOutcome.of_skopeo(pull), "\n---\n".join(texts)
    event(f"{len(ours.attempts)} attempts")
