"""The staff shell's navigation: what each actor's roles open, asked of the permission resolver."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from fengqiao.org.permissions import Action, permissions_for


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    url_name: str
    actions: tuple[Action, ...]  # shown when the actor may do one of these somewhere


NAV = [
    NavItem("desk", _("Command desk"), "web:desk", (Action.INTAKE_CASE, Action.DISPATCH_CASE)),
    NavItem("inbox", _("My cases"), "web:case_inbox", (Action.HANDLE_CASE,)),
    NavItem("field", _("Field app"), "web:field_home", (Action.CLOSE_ON_SPOT, Action.VERIFY_CASE)),
    NavItem("map", _("Grid map"), "web:map", (Action.VIEW_CASE,)),
    NavItem("leader", _("Supervision"), "web:leader", (Action.SUPERVISE_CASE, Action.VIEW_STATISTICS)),
    NavItem("mediation", _("Mediation centre"), "mediation:desk", (Action.MANAGE_DISPUTES,)),
    NavItem("mediator", _("My disputes"), "mediation:workspace", (Action.MEDIATE,)),
    NavItem("affairs", _("Village affairs"), "affairs:staff_home",
            (Action.PUBLISH_AFFAIRS, Action.REVIEW_DISCLOSURE, Action.MANAGE_APPOINTMENTS)),
]


def nav_items(request: HttpRequest) -> list[dict]:
    user = request.user
    if not user.is_authenticated:
        return []
    perms = permissions_for(user)
    items = []
    for item in NAV:
        if not any(perms.may_ever(a) for a in item.actions):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:  # a page not built yet
            continue
        items.append({"key": item.key, "label": item.label, "url": url,
                      "active": request.path.startswith(url)})
    return items


def staff_shell(request: HttpRequest) -> dict:
    """Template context of the staff shell (a context processor)."""
    if not request.user.is_authenticated:
        return {"nav_items": []}
    from fengqiao.notify.selectors import unread_count

    return {"nav_items": nav_items(request), "unread_count": unread_count(user=request.user)}
