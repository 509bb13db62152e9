from django.urls import path

from fengqiao.web.views import cases

# included under /cases/ in the `web` namespace
urlpatterns = [
    path("", cases.case_inbox, name="case_inbox"),
    path("<str:number>/", cases.case_detail, name="case_detail"),
    path("<str:number>/photos/<int:pk>/<str:variant>/", cases.case_photo, name="case_photo"),
    path("<str:number>/<str:action>/", cases.case_action, name="case_action"),
]
