"""The product's URLs plus ``/bench/bare``: the cheapest Django view, served the same way as the webhook."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from controlplane.urls import urlpatterns as product_urlpatterns


@csrf_exempt
@require_POST
def bare(request: HttpRequest) -> HttpResponse:
    """Baseline: a plain sync view that only answers 200 (the webhook view is sync too)."""
    return HttpResponse(status=200)


urlpatterns = [*product_urlpatterns, path("bench/bare", bare)]
