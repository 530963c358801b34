"""An index source for app tests: the real holder, already serving one index."""

from __future__ import annotations

from webhook.core.mirror_index import MirrorIndex
from webhook.index_sources import IndexHolder


def serving(index: MirrorIndex) -> IndexHolder:
    holder = IndexHolder()
    holder.swap_index(index, rules=len(index.tables))
    return holder
