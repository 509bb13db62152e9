from django.urls import path

from fengqiao.web.views import map as views

urlpatterns = [
    path("", views.map_page, name="map"),
    path("data.json", views.map_data_json, name="map_data"),
    path("area/<str:code>/cases/", views.area_cases, name="map_area_cases"),
]
