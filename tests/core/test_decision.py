"""What the API server receives: warnings within its limits, deny lines, audit keys."""

from __future__ import annotations

import pytest

from webhook.core.decision import WARNING_LENGTH_MAX, WARNINGS_TOTAL_MAX, within_budget


@pytest.mark.parametrize("count", [1, 10, 34, 35, 36, 200])
@pytest.mark.parametrize("length", [40, 97, 119, 200])
def test_warnings_stay_within_the_api_servers_budget(count: int, length: int) -> None:
    texts = [f"{n:03d}" + "x" * length for n in range(count)]
    warnings = within_budget(texts, "images")
    assert all(len(w) <= WARNING_LENGTH_MAX for w in warnings)
    assert sum(len(w) for w in warnings) <= WARNINGS_TOTAL_MAX


def test_the_last_warning_says_how_many_did_not_fit() -> None:
    warnings = within_budget(["y" * 119] * 100, "images not pinned")
    shown = len(warnings) - 1
    assert warnings[-1] == f"… and {100 - shown} more images not pinned"


def test_everything_that_fits_is_shown_as_it_is() -> None:
    assert within_budget(["a", "b"], "images") == ("a", "b")
