from django.urls import path

from fengqiao.web.views import leader as views

urlpatterns = [
    path("", views.leader, name="leader"),
]
