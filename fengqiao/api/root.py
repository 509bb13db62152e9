"""The NinjaAPI at /api/v1: authentication, structured errors, the apps' routers and the docs page.

OpenAPI at /api/v1/openapi.json; the interactive docs at /api/v1/docs are served with the Swagger UI
files shipped inside django-ninja (no CDN).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import ninja
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template import RequestContext, Template
from django.urls import reverse
from ninja import NinjaAPI, Schema
from ninja.openapi.docs import Swagger

from fengqiao.affairs.api import router as affairs_router
from fengqiao.api import errors
from fengqiao.api.auth import AUTH
from fengqiao.cases.api import categories_router
from fengqiao.cases.api import router as cases_router
from fengqiao.mediation.api import router as mediation_router
from fengqiao.portal.api import router as portal_router

NAMESPACE = "api-v1"
ASSETS_DIR = Path(ninja.__file__).resolve().parent / "static" / "ninja"
ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-init.js", "favicon.svg", "favicon.png"}

_PAGE = Template("""<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>{{ api.title }}</title>
  <link type="text/css" rel="stylesheet" href="{{ assets }}swagger-ui.css">
  <link rel="icon" href="{{ assets }}favicon.svg" type="image/svg+xml">
</head>
<body data-csrf-token="{% if add_csrf %}{{ csrf_token }}{% endif %}" data-api-csrf="{% if add_csrf %}true{% endif %}">
  <script type="application/json" id="swagger-settings">{{ swagger_settings|safe }}</script>
  <div id="swagger-ui"></div>
  <script src="{{ assets }}swagger-ui-bundle.js"></script>
  <script src="{{ assets }}swagger-ui-init.js"></script>
</body>
</html>""")


class LocalSwagger(Swagger):
    """Swagger UI from ninja's bundled files, served by the API itself (below)."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs) -> HttpResponse:
        import json

        self.settings["url"] = self.get_openapi_url(api, kwargs)
        assets = reverse(f"{api.urls_namespace}:docs_asset", kwargs={"name": "x"})[:-1]
        context = {"api": api, "assets": assets, "swagger_settings": json.dumps(self.settings, indent=1),
                   "add_csrf": True}
        return HttpResponse(_PAGE.render(RequestContext(request, context)))


api = NinjaAPI(
    title="Fengqiao API",
    version="1",
    description="The case loop of Fengqiao. Guide: docs/api.md. Errors: "
                '`{"errors": [{"field", "code", "message"}]}` in the language of Accept-Language.',
    urls_namespace=NAMESPACE,
    auth=AUTH,
    docs=LocalSwagger(),
    docs_url="/docs",
)
errors.install(api)
api.add_router("/cases", cases_router)
api.add_router("/categories", categories_router)
api.add_router("/disputes", mediation_router)
api.add_router("/portal", portal_router)
api.add_router("/affairs", affairs_router)


@api.get("/docs/assets/{name}", auth=None, include_in_schema=False, url_name="docs_asset")
def docs_asset(request: HttpRequest, name: str):
    if name not in ASSETS:
        raise Http404(name)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse((ASSETS_DIR / name).open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response


class CsrfOut(Schema):
    csrf_token: str


@api.get("/csrf", auth=None, response=CsrfOut, operation_id="csrf_token", tags=["auth"],
         summary="A CSRF token for session callers (also set as the csrftoken cookie)")
def csrf_token(request: HttpRequest):
    """Session callers send it back as the X-CSRFToken header on POST. Token callers need none."""
    return {"csrf_token": get_token(request)}
