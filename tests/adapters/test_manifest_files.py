"""Reading manifests: libyaml where PyYAML has it, the pure-Python parser's words for errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from webhook.adapters import manifest_files
from webhook.adapters.manifest_files import parse_documents, read_documents
from webhook.errors import MirrorSetFileError

EXAMPLE = Path(manifest_files.__file__).parents[1] / "examples" / "mirror-sets.yaml"
BROKEN = "kind: ImageDigestMirrorSet\nspec:\n  imageDigestMirrors: [\n    - source: a\n"


def test_libyaml_is_used_when_pyyaml_has_it() -> None:
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML was built without libyaml")
    assert manifest_files._FAST_LOADER is yaml.CSafeLoader


def test_both_parsers_read_the_same_documents_and_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = EXAMPLE.read_text()
    fast = parse_documents(text, "sets.yaml")
    monkeypatch.setattr(manifest_files, "_FAST_LOADER", None)
    pure = parse_documents(text, "sets.yaml")
    assert [(d.line, d.body, d.positions) for d in fast] == [
        (d.line, d.body, d.positions) for d in pure
    ]


def test_a_syntax_error_is_named_as_the_pure_parser_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(MirrorSetFileError) as fast:
        parse_documents(BROKEN, "sets.yaml")
    monkeypatch.setattr(manifest_files, "_FAST_LOADER", None)
    with pytest.raises(MirrorSetFileError) as pure:
        parse_documents(BROKEN, "sets.yaml")
    assert str(fast.value) == str(pure.value)
    assert str(fast.value).startswith("sets.yaml:4: not valid YAML")


def test_deep_nesting_is_refused_in_one_line() -> None:
    with pytest.raises(MirrorSetFileError, match="nested too deeply"):
        parse_documents("[" * 100_000 + "]" * 100_000, "deep.yaml")


def test_scalar_positions_are_only_collected_when_asked() -> None:
    (with_positions,) = read_documents([str(EXAMPLE)])[:1]
    (without,) = read_documents([str(EXAMPLE)], positions=False)[:1]
    assert with_positions.positions
    assert without.positions == {}
    assert without.body == with_positions.body
