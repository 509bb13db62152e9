"""QR codes that open the portal's report page with an asset or a village filled in, as SVG per
code and as a printable multi-page A4 PDF of labels (ReportLab, Chinese text in the built-in CID
font STSong-Light, so no font file is needed)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from fengqiao.geo.models import Asset, Region

REPORT_PATH_FALLBACK = "/portal/report/"
LABEL_LINE = "扫码反映问题 / scan to report"


def report_path() -> str:
    try:
        return reverse("portal:report")
    except NoReverseMatch:  # the portal's report page is not mounted (yet): its planned address
        return REPORT_PATH_FALLBACK


def public_base_url(request: HttpRequest | None = None) -> str:
    """SITE_URL (FENGQIAO_SITE_URL, e.g. https://fengqiao.example.org), else the request's own origin."""
    configured = getattr(settings, "SITE_URL", "")
    if configured:
        return str(configured).rstrip("/")
    if request is not None:
        return f"{request.scheme}://{request.get_host()}"
    return "http://localhost:8000"


def asset_url(asset: Asset, base: str) -> str:
    return f"{base}{report_path()}?{urlencode({'asset': asset.code})}"


def region_url(region: Region, base: str) -> str:
    return f"{base}{report_path()}?{urlencode({'region': region.code})}"


@dataclass(frozen=True)
class Label:
    title: str  # the asset's or the noticeboard's name
    code: str
    url: str
    kind: str  # "asset" or "region"


def labels_for(region: Region, *, base: str, asset_type: str = "") -> list[Label]:
    """One label per village of `region` (its noticeboard) and one per active asset in it."""
    villages = [region] if region.level == "village" else list(
        Region.objects.filter(code__startswith=region.code, level="village").order_by("code"))
    labels = [Label(f"{v.name}村务公开栏", v.code, region_url(v, base), "region") for v in villages
              if not asset_type]
    assets = Asset.objects.filter(is_active=True).filter(region__code__startswith=region.code).order_by("code")
    if asset_type:
        assets = assets.filter(type=asset_type)
    for asset in assets:
        labels.append(Label(asset.name or str(asset.get_type_display()), asset.code, asset_url(asset, base), "asset"))
    return labels


def qr(url: str) -> segno.QRCode:
    return segno.make(url, error="m", micro=False)


def svg(url: str, *, scale: int = 4, title: str = "") -> bytes:
    buffer = io.BytesIO()
    qr(url).save(buffer, kind="svg", scale=scale, border=2, title=title or None, xmldecl=False)
    return buffer.getvalue()


def _draw_qr(pdf, url: str, x: float, y: float, size: float) -> None:
    """Draw the QR code of `url` (segno's matrix, with its quiet zone) as filled squares."""
    matrix = [list(row) for row in qr(url).matrix_iter(scale=1, border=2)]
    module = size / len(matrix)
    pdf.setFillGray(0)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                pdf.rect(x + c * module, y + size - (r + 1) * module, module, module, stroke=0, fill=1)


def labels_pdf(labels: Iterable[Label], *, heading: str = "") -> bytes:
    """A4 pages of 3 × 4 labels: the QR code, the name and code, and the scan line."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    pdf.setTitle(heading or "QR codes")
    page_w, page_h = A4
    cols, rows = 3, 4
    margin = 12 * mm
    cell_w = (page_w - 2 * margin) / cols
    cell_h = (page_h - 2 * margin - 8 * mm) / rows
    qr_size = min(cell_w, cell_h) - 22 * mm
    items = list(labels)
    per_page = cols * rows
    for start in range(0, max(len(items), 1), per_page):
        if heading:
            pdf.setFont(font, 10)
            pdf.drawString(margin, page_h - margin, heading)
        for i, label in enumerate(items[start:start + per_page]):
            col, row = i % cols, i // cols
            x = margin + col * cell_w
            y = page_h - margin - 8 * mm - (row + 1) * cell_h
            pdf.setStrokeGray(0.8)
            pdf.rect(x + 2, y + 2, cell_w - 4, cell_h - 4)
            _draw_qr(pdf, label.url, x + (cell_w - qr_size) / 2, y + 18 * mm, qr_size)
            pdf.setFont(font, 10)
            pdf.drawCentredString(x + cell_w / 2, y + 13 * mm, label.title[:24])
            pdf.setFont(font, 8)
            pdf.drawCentredString(x + cell_w / 2, y + 9 * mm, label.code)
            pdf.drawCentredString(x + cell_w / 2, y + 5 * mm, LABEL_LINE)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()
