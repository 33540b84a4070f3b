"""Cursor pagination: stable under inserts (new meetings arrive all the time), no COUNT over big tables."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request


class IdCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = "-id"
    integer_position = True  # the ordering field is an integer: a forged cursor must not reach the query

    def decode_cursor(self, request: Request) -> Cursor | None:
        # DRF answers a bad cursor with 404; it is invalid input, so 400 naming the parameter.
        if request.query_params.get(self.cursor_query_param) is None:
            return None
        invalid = ValidationError({self.cursor_query_param: ["invalid cursor"]})
        try:
            cursor = super().decode_cursor(request)
        except Exception:
            raise invalid from None
        position = str(cursor.position) if cursor is not None and cursor.position is not None else None
        if position is not None:
            if "\x00" in position:
                raise invalid
            if self.integer_position and not (
                position.isascii() and position.isdigit() and int(position) < 2**63
            ):
                raise invalid
        return cursor

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if not 1 <= value <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"must be an integer from 1 to {self.max_page_size}"]}
            )
        return value

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        base = super().get_paginated_response_schema(schema)
        base["required"] = ["results", "next", "previous"]
        return base


class CodeCursorPagination(IdCursorPagination):
    ordering = "code"
    integer_position = False


class PositionCursorPagination(IdCursorPagination):
    ordering = "position"
