"""The portal's start page: the promise and the ways in."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from fengqiao.cases.deadlines import answer_working_days


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html", {"answer_days": answer_working_days()})
