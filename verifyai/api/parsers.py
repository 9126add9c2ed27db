"""The one JSON reader of the API: every JSON body (DRF's parser) and every JSON string
inside a form field (``metadata``) goes through :func:`loads`.

Python's ``json`` accepts things no database stores and no client should send:
``NaN``/``Infinity`` literals, numbers such as ``1e999`` that overflow to infinity,
unpaired UTF-16 surrogates (``"\\ud800"``, which cannot be encoded as UTF-8), and
nesting deep enough to exhaust the interpreter's recursion limit. Each is refused
here with a 400, before a route bills, evaluates or stores anything.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Deeper than any body of ours needs (a policy is 3 levels, metadata rarely 5), far below
# the interpreter's recursion limit that the parser, our serializers and the database
# adapters all share.
MAX_JSON_DEPTH = 32


class InvalidJSON(ValueError):
    """A JSON text we refuse; the message is safe to show to the client."""


def _refuse_constant(name: str) -> Any:
    raise InvalidJSON(f"JSON numbers must be finite; {name} is not allowed.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 32 else text[:29] + "..."
        raise InvalidJSON(f"JSON numbers must be finite; {shown} is out of range.")
    return value


def _check_nesting_and_text(value: Any, max_depth: int) -> None:
    """Iteratively (a recursive walk would be the very problem we guard against)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
            for key in item:
                _check_text(key)
        elif isinstance(item, list):
            children = item
        else:
            if isinstance(item, str):
                _check_text(item)
            continue
        if depth > max_depth:
            raise InvalidJSON(f"JSON is nested too deeply (at most {max_depth} levels).")
        stack.extend((child, depth + 1) for child in children)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidJSON("JSON strings must be valid Unicode (no unpaired surrogates).") from None


def loads(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that raises :class:`InvalidJSON` (a ``ValueError``) for anything we
    would not store: invalid JSON, non-finite numbers, bad Unicode, excessive depth."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise InvalidJSON(f"JSON is nested too deeply (at most {max_depth} levels).") from None
    except InvalidJSON:
        raise
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise InvalidJSON(f"Invalid JSON: {exc}") from None
    _check_nesting_and_text(value, max_depth)
    return value


class StrictJSONParser(JSONParser):
    """DRF's JSON parser on :func:`loads`; the default parser of every route."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            raw = stream.read() if stream is not None else b""
            return loads(raw.decode(encoding))
        except UnicodeDecodeError:
            raise ParseError(f"The JSON body is not valid {encoding}.") from None
        except InvalidJSON as exc:
            raise ParseError(str(exc)) from None
