from django.contrib.auth import views as auth_views
from django.urls import include, path

from fengqiao.web import views
from fengqiao.web.views import account

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", account.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("notifications/", account.notifications, name="notifications"),
    # each part of the staff workbench has its own URL module
    path("desk/", include("fengqiao.web.urls_desk")),
    path("cases/", include("fengqiao.web.urls_cases")),
    path("map/", include("fengqiao.web.urls_map")),
    path("field/", include("fengqiao.web.urls_field")),
    path("leader/", include("fengqiao.web.urls_leader")),
]
