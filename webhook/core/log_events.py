"""A structured log line as data: the handler that writes it encodes it, once.

Logged as `log.info("%s", LogEvent({...}))`: a JSON formatter merges the fields into its
line without encoding them twice; any other handler gets the JSON text from `str()`.
"""

from __future__ import annotations

import json
from typing import Any


class LogEvent:
    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __str__(self) -> str:
        return json.dumps(self.fields)

    def __repr__(self) -> str:
        return f"LogEvent({self.fields!r})"
