from django.contrib import admin

from fengqiao.geo.models import Asset, Grid, Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name", "name_en"]
    autocomplete_fields = ["parent"]


@admin.register(Grid)
class GridAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "region", "parent", "households", "area_m2"]
    list_filter = ["region__parent"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["region", "parent"]
    readonly_fields = ["area_m2"]

    def save_model(self, request, obj, form, change):
        from fengqiao.geo.services import grid_measure

        grid_measure(grid=obj)
        super().save_model(request, obj, form, change)


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["code", "type", "name", "grid", "department", "is_active"]
    list_filter = ["type", "is_active"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["grid", "region", "department"]

    def save_model(self, request, obj, form, change):
        from fengqiao.geo.services import asset_locate

        asset_locate(asset=obj)
        super().save_model(request, obj, form, change)
