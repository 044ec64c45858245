"""Keyset pagination: `?cursor=` encodes the sort key of the last row returned, so every
page costs one index range scan, however deep, and no COUNT(*) is ever run."""

import base64
import binascii
import json
from datetime import datetime

from django.db.models import Q
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


class KeysetPagination(BasePagination):
    """`ordering` lists model fields, '-' for descending; the last must be unique (id)."""

    page_size = 50
    max_page_size = 200
    ordering: tuple[str, ...] = ("-id",)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        limit = self._limit(request)
        queryset = queryset.order_by(*self.ordering)
        cursor = request.query_params.get("cursor")
        if cursor:
            queryset = queryset.filter(self._after(self._decode(cursor)))
        rows = list(queryset[: limit + 1])
        self.has_next = len(rows) > limit
        self.rows = rows[:limit]
        return self.rows

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.next_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "format": "uri", "nullable": True},
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "Opaque cursor from the previous page's `next`."},
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "maximum": self.max_page_size}},
        ]

    def next_link(self) -> str | None:
        if not self.has_next:
            return None
        last = self.rows[-1]
        values = [self._value(getattr(last, name.lstrip("-"))) for name in self.ordering]
        token = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
        url = self.request.build_absolute_uri()
        return replace_query_param(remove_query_param(url, "cursor"), "cursor", token)

    def _limit(self, request) -> int:
        raw = request.query_params.get("limit")
        if raw is None:
            return self.page_size
        try:
            limit = int(raw)
        except ValueError:
            raise ValidationError({"limit": ["Must be an integer."]}) from None
        if not 1 <= limit <= self.max_page_size:
            raise ValidationError({"limit": [f"Must be between 1 and {self.max_page_size}."]})
        return limit

    def _decode(self, cursor: str) -> list:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            values = json.loads(base64.urlsafe_b64decode(padded))
        except (ValueError, binascii.Error):
            raise ValidationError({"cursor": ["Invalid cursor."]}) from None
        if not isinstance(values, list) or len(values) != len(self.ordering):
            raise ValidationError({"cursor": ["Invalid cursor."]})
        return [self._parse(value) for value in values]

    def _after(self, values: list) -> Q:
        """Rows strictly after `values` in the ordering: (a, b) > (x, y) spelled with Q."""
        condition = Q()
        for index, name in enumerate(self.ordering):
            field = name.lstrip("-")
            lookup = "lt" if name.startswith("-") else "gt"
            equal_prefix = {
                prev.lstrip("-"): values[i] for i, prev in enumerate(self.ordering[:index])
            }
            condition |= Q(**equal_prefix, **{f"{field}__{lookup}": values[index]})
        # A plain range bound on the leading column lets the planner use the index as a range.
        first = self.ordering[0]
        bound = Q(**{f"{first.lstrip('-')}__{'lte' if first.startswith('-') else 'gte'}": values[0]})
        return bound & condition

    @staticmethod
    def _value(value):
        return {"dt": value.isoformat()} if isinstance(value, datetime) else value

    @staticmethod
    def _parse(value):
        if isinstance(value, dict) and "dt" in value:
            try:
                return datetime.fromisoformat(value["dt"])
            except (TypeError, ValueError):
                raise ValidationError({"cursor": ["Invalid cursor."]}) from None
        if not isinstance(value, (int, str)):
            raise ValidationError({"cursor": ["Invalid cursor."]})
        return value


class TicketPagination(KeysetPagination):
    ordering = ("-last_activity_at", "-id")


class MessagePagination(KeysetPagination):
    ordering = ("seq",)


class TimelinePagination(KeysetPagination):
    ordering = ("created_at", "id")
