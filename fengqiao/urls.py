from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve

from fengqiao.api.root import api

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    # the language comes from the user's choice (cookie) or the browser (Accept-Language), not the URL
    path("admin/", admin.site.urls),
    path("portal/", include("fengqiao.portal.urls")),  # the residents' pages
    path("affairs/", include("fengqiao.affairs.urls")),  # notices, disclosures, appointments (public and staff)
    path("mediation/", include("fengqiao.mediation.urls")),
    path("", include("fengqiao.web.urls")),
]

if settings.DEBUG:
    urlpatterns += [path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT})]

admin.site.site_header = "枫桥 Fengqiao"
admin.site.site_title = "Fengqiao"
