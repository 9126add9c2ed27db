"""The one shape of an id in an API path.

Every id we mint is letters, digits, ``_`` and ``-``: ``ver_...``, ``whk_...``, ``dlv_...``,
policy ids (``scooter_parking``) and stream UUIDs. Anything else in that segment (a NUL,
which PostgreSQL refuses in a query, a newline, a space) cannot name one of our objects,
so the URL simply does not match: a 404 with the error body, before any view, any
authentication or any database query sees it.
"""

from __future__ import annotations

from django.urls.converters import StringConverter

MAX_ID_LENGTH = 128
PATTERN = f"[A-Za-z0-9_-]{{1,{MAX_ID_LENGTH}}}"


class ApiIdConverter(StringConverter):
    regex = PATTERN
