"""One error shape for every API answer that is not a success:

    {"error": {"code": "not_found", "message": "...", "fields": {"state": ["..."]}}}

``fields`` is present for invalid input (400) and names each offending field; ``zoom`` is present when
Zoom refused or failed (502) and carries Zoom's own status and error code.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from compliance.erasure import ErasureRefused
from regions.storage import RegionStorageNotConfigured
from rtms.capture import IllegalState
from rtms.zoom.api import ZoomApiError


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "the object's state does not allow this"


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested serializer errors become dotted field names (``settings.client_id``)."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}"))
        return out
    if isinstance(detail, list) and detail and all(isinstance(item, dict) for item in detail):
        out = {}
        for i, item in enumerate(detail):
            out.update(_flatten(item, f"{prefix}.{i}" if prefix else str(i)))
        return out
    items = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(item) for item in items]}


def _message(exc: exceptions.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, str):
        return str(detail)
    if isinstance(exc, exceptions.ValidationError):
        return "invalid input; see fields"
    return str(exc.default_detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, IllegalState):
        exc = Conflict(exc.message)
    elif isinstance(exc, ErasureRefused):
        exc = Conflict(str(exc))
    elif isinstance(exc, ZoomApiError):
        return Response(
            error_body(
                "zoom_error",
                f"Zoom refused or failed: {exc.message or type(exc).__name__}",
                zoom={"status": exc.status, "code": exc.code},
            ),
            status=status.HTTP_502_BAD_GATEWAY,
        )
    elif isinstance(exc, RegionStorageNotConfigured):
        return Response(
            error_body("storage_not_configured", "the region's content storage is not configured"),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    code = exc.default_code if isinstance(exc.default_code, str) else "error"
    extra: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError) or isinstance(exc.detail, dict | list):
        extra["fields"] = _flatten(exc.detail)
    response.data = error_body(code, _message(exc), **extra)
    return response


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any /api/ URL that names no endpoint: the same JSON shape as every other error, never HTML."""
    message = f"no API endpoint at {request.path}"
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            pass
        else:
            if match.url_name != "not-found":
                message += f"; did you mean {request.path}/ ?"
    return JsonResponse(error_body("not_found", message), status=404)


class ErrorDetailSerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Invalid input only: each offending field and what is wrong with it.",
    )
    zoom = serializers.DictField(required=False, help_text="Zoom errors only: Zoom's HTTP status and code.")


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    error = ErrorDetailSerializer()
