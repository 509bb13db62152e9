"""Signing in and out, and the user's notification inbox."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from fengqiao.notify.selectors import inbox_for
from fengqiao.notify.services import inbox_mark_read


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("message") if i.isdigit()]
        if request.POST.get("all"):
            ids = list(inbox_for(user=request.user, unread_only=True).values_list("pk", flat=True))
        inbox_mark_read(user=request.user, message_ids=ids)
        return redirect("web:notifications")
    page = Paginator(inbox_for(user=request.user), 30).get_page(request.GET.get("page"))
    return render(request, "web/notifications.html", {"page": page})
