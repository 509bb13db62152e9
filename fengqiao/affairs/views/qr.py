"""Staff pages of QR codes: choose a village or township, print the sheet (PDF) or take one code (SVG)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from fengqiao.affairs import qrcodes
from fengqiao.affairs import selectors as sel
from fengqiao.affairs.views.staff import staff_render, staff_view
from fengqiao.geo.models import Asset, AssetType, Region
from fengqiao.org.permissions import Action, permissions_for

QR_ACTIONS = (Action.PUBLISH_AFFAIRS, Action.MANAGE_APPOINTMENTS)


def _region(request: HttpRequest, code: str) -> Region:
    region = sel.region_by_code(code)
    if region is None or not any(permissions_for(request.user).can(a, region) for a in QR_ACTIONS):
        raise Http404
    return region


def _asset_type(request: HttpRequest) -> str:
    value = request.GET.get("type", "")
    return value if value in AssetType.values else ""


@require_GET
@staff_view(*QR_ACTIONS)
def sheet(request: HttpRequest) -> HttpResponse:
    regions = sel.staff_regions(request.user, *QR_ACTIONS)
    code = request.GET.get("region", "")
    region = _region(request, code) if code else None
    asset_type = _asset_type(request)
    labels = []
    if region is not None:
        base = qrcodes.public_base_url(request)
        labels = [{"label": lb, "svg": qrcodes.svg(lb.url, scale=3, title=lb.title).decode()}
                  for lb in qrcodes.labels_for(region, base=base, asset_type=asset_type)[:60]]
    return staff_render(request, "affairs/staff/qr.html", {
        "regions": regions, "region": region, "labels": labels, "asset_type": asset_type,
        "asset_types": AssetType.choices})


@require_GET
@staff_view(*QR_ACTIONS)
def sheet_pdf(request: HttpRequest, code: str) -> HttpResponse:
    region = _region(request, code)
    labels = qrcodes.labels_for(region, base=qrcodes.public_base_url(request), asset_type=_asset_type(request))
    pdf = qrcodes.labels_pdf(labels, heading=f"{region.name} {region.code}")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="qr-{region.code}.pdf"'
    return response


@require_GET
@staff_view(*QR_ACTIONS)
def asset_svg(request: HttpRequest, code: str) -> HttpResponse:
    asset = Asset.objects.select_related("grid", "region").filter(code=code).first()
    if asset is None or not any(permissions_for(request.user).can(a, asset) for a in QR_ACTIONS):
        raise Http404
    url = qrcodes.asset_url(asset, qrcodes.public_base_url(request))
    response = HttpResponse(qrcodes.svg(url, scale=8, title=asset.name or asset.code), content_type="image/svg+xml")
    response["Content-Disposition"] = f'inline; filename="qr-{asset.code}.svg"'
    return response


@require_GET
@staff_view(*QR_ACTIONS)
def region_svg(request: HttpRequest, code: str) -> HttpResponse:
    region = _region(request, code)
    url = qrcodes.region_url(region, qrcodes.public_base_url(request))
    response = HttpResponse(qrcodes.svg(url, scale=8, title=region.name), content_type="image/svg+xml")
    response["Content-Disposition"] = f'inline; filename="qr-{region.code}.svg"'
    return response
