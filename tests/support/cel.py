"""matchConditions evaluated the way the API server does, with cel-python (celpy).

The API server binds `object`, `oldObject` (null on CREATE) and `request` (the
AdmissionRequest as JSON, so fields sent with omitempty may be absent); a field read that
is not there is an error, and under failurePolicy Fail an error rejects the request. So
`evaluate` raises on an error instead of guessing a value: a test that gets an answer
knows the expression would have got one in the cluster too.
"""

from __future__ import annotations

from typing import Any

import celpy

_ENVIRONMENT = celpy.Environment()


class CelError(Exception):
    """The expression failed to compile or to evaluate."""


def evaluate(expression: str, review: dict[str, Any]) -> bool:
    """The value of one matchCondition for one AdmissionReview."""
    request = dict(review["request"])
    variables = {
        "object": request.pop("object", None),
        "oldObject": request.pop("oldObject", None),
        "request": request,
    }
    try:
        program = _ENVIRONMENT.program(_ENVIRONMENT.compile(expression))
        result = program.evaluate({k: celpy.json_to_cel(v) for k, v in variables.items()})
    except celpy.CELParseError as error:
        raise CelError(f"{expression!r} does not parse: {error}") from error
    except celpy.CELEvalError as error:
        raise CelError(f"{expression!r} failed: {error}") from error
    if isinstance(result, celpy.CELEvalError):
        raise CelError(f"{expression!r} failed: {result}")
    if not isinstance(result, celpy.celtypes.BoolType):
        raise CelError(f"{expression!r} gave {result!r}, not a bool")
    return bool(result)
