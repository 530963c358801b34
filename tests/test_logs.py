"""The server's log lines: one JSON object each, spaced as the chart's NOTES grep for."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from webhook.core.log_events import LogEvent
from webhook.logs import JsonLogFormatter

NOTES = Path(__file__).resolve().parents[1] / "charts" / "idms-guard" / "templates" / "NOTES.txt"


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("idms_guard.admission", logging.INFO, __file__, 1, message, args, None)


def test_a_findings_line_is_found_by_the_grep_the_chart_notes_print() -> None:
    (pattern,) = re.findall(r"grep '([^']+)'", NOTES.read_text())
    line = JsonLogFormatter().format(record("%s", LogEvent({"event": "findings", "mode": "warn"})))
    assert pattern in line


def test_an_event_is_merged_into_the_line_as_fields() -> None:
    line = JsonLogFormatter().format(record("%s", LogEvent({"event": "pinned", "images": ["a"]})))
    entry = json.loads(line)
    assert (entry["level"], entry["logger"]) == ("info", "idms_guard.admission")
    assert (entry["event"], entry["images"]) == ("pinned", ["a"])
    assert "message" not in entry


def test_a_plain_message_is_one_field() -> None:
    entry = json.loads(JsonLogFormatter().format(record("index %s loaded", 3)))
    assert entry["message"] == "index 3 loaded"
