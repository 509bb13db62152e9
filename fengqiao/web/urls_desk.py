"""The command-centre desk: the queue, the case panel and its actions, the hotline form, bulk intake from a file."""

from django.urls import path

from fengqiao.web.views import desk

urlpatterns = [
    path("", desk.desk, name="desk"),
    path("hotline/", desk.hotline, name="desk_hotline"),
    path("import/", desk.import_file, name="desk_import"),
    path("import/template.csv", desk.import_template, name="desk_import_template"),
    path("cases/<str:number>/", desk.case_panel, name="desk_case"),
    path("cases/<str:number>/<slug:action>/", desk.case_action, name="desk_case_action"),
]
