"""What a fault spec is: its keys, how one is checked and filled in, how it reads.

Plain Python (no Django, no models): `sandbox.common.models.Fault` describes itself with it and
`sandbox.common.faults` applies the specs, so neither has to import the other to share it.
See sandbox/common/faults.py for what each key does.
"""

import math

SPEC_KEYS = {
    "latency_ms",
    "rate",
    "status",
    "retry_after",
    "hang_seconds",
    "malformed",
    "error_message",
}
ERROR_MESSAGE_MAX = 500


class FaultSpecError(ValueError):
    """A fault spec that cannot be applied (unknown key, wrong type, out of range)."""


def clean_spec(spec: dict) -> dict:
    """The spec with defaults filled in; FaultSpecError names what is wrong."""
    if not isinstance(spec, dict):
        raise FaultSpecError(f"A fault spec is a dict, not {type(spec).__name__}.")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise FaultSpecError(f"Unknown fault keys {sorted(unknown)}; known: {sorted(SPEC_KEYS)}.")
    try:
        cleaned = {
            "latency_ms": int(spec.get("latency_ms") or 0),
            "rate": float(1.0 if spec.get("rate") is None else spec["rate"]),
            "status": int(spec["status"]) if spec.get("status") else None,
            "retry_after": int(spec.get("retry_after") or 1),
            "hang_seconds": float(spec.get("hang_seconds") or 0),
            "malformed": bool(spec.get("malformed", False)),
            "error_message": spec.get("error_message") or None,
        }
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: infinity
        raise FaultSpecError(f"Bad fault spec {spec!r}: {exc}") from exc
    message = cleaned["error_message"]
    if message is not None:
        if not isinstance(message, str):
            raise FaultSpecError(f"error_message must be a string, not {type(message).__name__}.")
        if len(message) > ERROR_MESSAGE_MAX:
            raise FaultSpecError(
                f"error_message is at most {ERROR_MESSAGE_MAX} characters, not {len(message)}."
            )
        if cleaned["status"] is None:
            raise FaultSpecError("error_message needs a status: it is the text of that answer.")
    if not math.isfinite(cleaned["hang_seconds"]):
        raise FaultSpecError(f"hang_seconds must be a number of seconds, not {spec!r}.")
    if not 0 <= cleaned["rate"] <= 1:
        raise FaultSpecError(f"rate must be between 0 and 1, not {cleaned['rate']}.")
    if cleaned["status"] is not None and not 400 <= cleaned["status"] <= 599:
        raise FaultSpecError(f"status must be a 4xx or 5xx code, not {cleaned['status']}.")
    if cleaned["latency_ms"] < 0 or cleaned["hang_seconds"] < 0 or cleaned["retry_after"] < 0:
        raise FaultSpecError("latency_ms, hang_seconds and retry_after cannot be negative.")
    return cleaned


def describe(spec: dict) -> str:
    """A short human description of a spec, for the sandbox page."""
    parts = []
    if spec.get("latency_ms"):
        parts.append(f"+{spec['latency_ms']} ms")
    if spec.get("hang_seconds"):
        parts.append(f"hang {spec['hang_seconds']:g} s")
    if spec.get("status"):
        text = f"HTTP {spec['status']}"
        if spec["status"] == 429:
            text += f" (Retry-After {spec.get('retry_after') or 1})"
        if spec.get("error_message"):
            message = spec["error_message"]
            shown = message if len(message) <= 80 else message[:79] + "…"
            text += f' "{shown}"'
        parts.append(text)
    if spec.get("malformed"):
        parts.append("malformed JSON")
    rate = spec.get("rate")
    if rate is not None and rate < 1:
        parts.append(f"{rate:.0%} of requests")
    return ", ".join(parts) or "no effect"
