"""The grid worker's field app, under /field/ (the service worker's scope)."""

from django.urls import path

from fengqiao.web.views import field

urlpatterns = [
    path("", field.home, name="field_home"),
    path("report/", field.report, name="field_report"),
    path("grid/", field.my_grid, name="field_my_grid"),
    path("cases/<str:number>/", field.case_detail, name="field_case"),
    path("cases/<str:number>/verify/", field.case_verify_view, name="field_verify"),
    path("inspections/", field.inspections, name="field_inspections"),
    path("inspections/start/", field.inspection_begin, name="field_inspection_start"),
    path("inspections/<int:round_id>/", field.inspection, name="field_inspection"),
    path("inspections/<int:round_id>/items/<int:item_id>/", field.inspection_item, name="field_inspection_item"),
    path("inspections/<int:round_id>/finish/", field.inspection_end, name="field_inspection_finish"),
    path("manifest.webmanifest", field.manifest, name="field_manifest"),
    path("sw.js", field.service_worker, name="field_sw"),
]
