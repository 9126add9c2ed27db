"""Serializer fields shared by the API's write bodies."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class BoundedListField(serializers.ListField):
    """A ListField that refuses an overlong list before validating any item of it.

    DRF checks a ListField's ``max_length`` only after validating every item, so a hostile
    list costs work in proportion to its length; this costs nothing. Give it a ``child``
    serializer for lists of objects: the schema then shows ``maxItems`` too, which
    ``many=True`` does not.
    """

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("max_length") is None:
            raise TypeError("BoundedListField needs a max_length.")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, list) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)
