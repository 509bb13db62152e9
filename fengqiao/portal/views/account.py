"""Resident accounts: register, sign in and out (throttled by django-axes), preferences."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from fengqiao.core.errors import DomainError
from fengqiao.portal.abuse import captcha_check, captcha_widget, limit_public_form
from fengqiao.portal.models import ResidentProfile
from fengqiao.portal.services import resident_register, resident_set_preferences
from fengqiao.portal.views.common import errors_by_field


class ResidentLoginForm(AuthenticationForm):
    """Residents sign in with their e-mail address, in whatever case they type it."""

    def clean_username(self) -> str:
        return (self.cleaned_data.get("username") or "").strip().lower()


class LoginView(auth_views.LoginView):
    form_class = ResidentLoginForm
    template_name = "portal/login.html"
    redirect_authenticated_user = True
    next_page = "portal:my_requests"


@sensitive_post_parameters("password", "password2")
@require_http_methods(["GET", "POST"])
@limit_public_form("portal.register")
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("portal:account")
    context = {"values": {}, "errors": {}, "captcha": captcha_widget(request)}
    if request.method == "POST":
        post = request.POST
        context["values"] = {"email": post.get("email", "")[:254], "email_on_changes": post.get("email_on_changes")}
        errors: dict[str, list[str]] = {}
        user = None
        try:
            captcha_check(request)
            if post.get("password", "") != post.get("password2", ""):
                errors["password2"] = [_("The two passwords differ.")]
            else:
                user = resident_register(email=post.get("email", ""), password=post.get("password", ""),
                                         email_on_changes=post.get("email_on_changes") in ("on", "1"))
        except DomainError as exc:
            errors.update(errors_by_field(exc))
        if user is None:
            context["errors"] = errors
            return render(request, "portal/register.html", context, status=422)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome. Your account is ready."))
        return redirect("portal:my_requests")
    return render(request, "portal/register.html", context)


@login_required(login_url="portal:login")
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    profile = ResidentProfile.objects.filter(user_id=request.user.pk or 0).first()
    if request.method == "POST":
        resident_set_preferences(actor=request.user, email_on_changes=request.POST.get("email_on_changes") in ("on", "1"))
        messages.success(request, _("Saved."))
        return redirect("portal:account")
    return render(request, "portal/account.html", {"profile": profile})
