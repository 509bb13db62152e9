"""The command-centre desk: the queue, the case panel and its actions, the hotline form."""

from django.urls import path

from fengqiao.web.views import desk

urlpatterns = [
    path("", desk.desk, name="desk"),
    path("hotline/", desk.hotline, name="desk_hotline"),
    path("cases/<str:number>/", desk.case_panel, name="desk_case"),
    path("cases/<str:number>/<slug:action>/", desk.case_action, name="desk_case_action"),
]
