from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from fengqiao.web.selectors import territory_summary


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", {"summary": territory_summary()})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
