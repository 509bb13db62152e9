"""The mediation agreement (人民调解协议书) and the referral file as PDFs with Chinese text.

ReportLab draws the text with its built-in CID font STSong-Light (no font file needed; readers
supply the glyphs and pypdf extracts the text). The PDF is deterministic for the same content
(`invariant=1`: fixed creation date and document id), so its SHA-256 identifies exactly what was
shown and signed.

The agreement follows 人民调解法 Art. 29: the parties' basic particulars; the main facts and the
points in dispute and each party's responsibility; the content of the agreement, and the manner
and deadline of performance. It bears the mediator's name and the body's name; the signatures are
given on the platform against the PDF's hash and listed beside it, never inside it (signing must
not change the bytes signed).

The document is a legal record written in Chinese whatever the interface language.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from xml.sax.saxutils import escape

from django.utils import timezone

from fengqiao.mediation.models import Agreement, Dispute, PartyKind, PartyRole, Referral

FONT = "STSong-Light"
ROLE_ZH = {PartyRole.APPLICANT: "申请人", PartyRole.RESPONDENT: "被申请人"}

# The Art. 29 headings, in order; tests look for each of them in the extracted text.
HEADINGS = {
    "parties": "一、当事人基本情况",
    "facts": "二、纠纷主要事实",
    "points_in_dispute": "三、争议事项",
    "responsibilities": "四、各方当事人的责任",
    "obligations": "五、协议内容（当事人自愿达成的义务）",
    "performance_manner": "六、履行方式",
    "performance_deadline": "七、履行期限",
    "other_terms": "八、其他约定",
}


@dataclass
class PartyLine:
    role: str
    kind: str
    name: str
    id_number: str
    address: str
    representative: str


@dataclass
class AgreementDocument:
    number: str
    revision: int
    organisation: str
    mediator: str
    type_name: str
    parties: list[PartyLine]
    facts: str
    points_in_dispute: str
    responsibilities: str
    obligations: str
    performance_manner: str
    performance_deadline: date
    other_terms: str = ""
    drafted_on: date | None = None
    signers: list[str] = field(default_factory=list)


def document_for(*, agreement: Agreement, dispute: Dispute) -> AgreementDocument:
    return AgreementDocument(
        number=dispute.number, revision=agreement.revision,
        organisation=dispute.organisation.name_zh if dispute.organisation is not None else "",
        mediator=dispute.mediator.display_name if dispute.mediator is not None else "", type_name=dispute.type.name_zh,
        parties=[PartyLine(p.role, p.kind, p.name, p.id_number, p.address, p.representative)
                 for p in dispute.parties.all()],
        facts=agreement.facts, points_in_dispute=agreement.points_in_dispute,
        responsibilities=agreement.responsibilities, obligations=agreement.obligations,
        performance_manner=agreement.performance_manner, performance_deadline=agreement.performance_deadline,
        other_terms=agreement.other_terms,
        drafted_on=timezone.localdate(agreement.updated_at) if agreement.updated_at else None,
    )


def _styles():
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    body = ParagraphStyle("body", fontName=FONT, fontSize=11, leading=18, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=body, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=6),
        "meta": ParagraphStyle("meta", parent=body, fontSize=10, alignment=TA_CENTER, spaceAfter=10),
        "heading": ParagraphStyle("heading", parent=body, fontSize=12, leading=20, spaceBefore=8, spaceAfter=2),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=9, leading=14),
    }


def _para(text: str, style):
    from reportlab.platypus import Paragraph

    # keep the writer's line breaks; escape markup characters
    return Paragraph(escape(text or "—").replace("\n", "<br/>"), style)


def _pdf(story: list, *, title: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=22 * mm, rightMargin=22 * mm, topMargin=20 * mm,
                            bottomMargin=20 * mm, title=title, author="Fengqiao", subject=title, creator="Fengqiao",
                            invariant=1)
    doc.build(story)
    return buffer.getvalue()


def _party_text(party: PartyLine) -> str:
    role = ROLE_ZH.get(PartyRole(party.role), party.role)
    parts = [f"{role}：{party.name}"]
    if party.id_number:
        parts.append(("统一社会信用代码：" if party.kind == PartyKind.ORGANISATION else "身份证号码：") + party.id_number)
    if party.address:
        parts.append(f"住所：{party.address}")
    if party.representative:
        parts.append(("法定代表人/代理人：" if party.kind == PartyKind.ORGANISATION else "代理人：") + party.representative)
    return "，".join(parts)


def render_agreement_pdf(document: AgreementDocument) -> bytes:
    """The agreement as PDF bytes, the same bytes for the same document."""
    from reportlab.platypus import Spacer

    st = _styles()
    story = [
        _para("人民调解协议书", st["title"]),
        _para(f"编号：{document.number}-{document.revision}　　纠纷类型：{document.type_name}", st["meta"]),
        _para(HEADINGS["parties"], st["heading"]),
        *[_para(_party_text(p), st["body"]) for p in document.parties],
        _para(HEADINGS["facts"], st["heading"]), _para(document.facts, st["body"]),
        _para(HEADINGS["points_in_dispute"], st["heading"]), _para(document.points_in_dispute, st["body"]),
        _para(HEADINGS["responsibilities"], st["heading"]), _para(document.responsibilities, st["body"]),
        _para(HEADINGS["obligations"], st["heading"]), _para(document.obligations, st["body"]),
        _para(HEADINGS["performance_manner"], st["heading"]), _para(document.performance_manner, st["body"]),
        _para(HEADINGS["performance_deadline"], st["heading"]),
        _para(f"{document.performance_deadline:%Y年%m月%d日}前履行完毕。", st["body"]),
    ]
    if document.other_terms:
        story += [_para(HEADINGS["other_terms"], st["heading"]), _para(document.other_terms, st["body"])]
    story += [
        Spacer(1, 10),
        _para("本协议经各方当事人和人民调解员签名（电子签名）后生效，具有法律约束力，当事人应当按照约定履行。"
              "本协议一式若干份，当事人各执一份，调解组织留存一份。", st["body"]),
        _para("自本协议生效之日起三十日内，双方当事人可以共同向人民法院申请司法确认"
              "（《中华人民共和国人民调解法》第三十三条）。", st["body"]),
        Spacer(1, 14),
        *[_para(f"{ROLE_ZH.get(PartyRole(p.role), p.role)}（签名）：{p.name}", st["body"]) for p in document.parties],
        _para(f"人民调解员（签名）：{document.mediator}", st["body"]),
        _para(f"调解组织：{document.organisation}", st["body"]),
        _para(f"日期：{document.drafted_on:%Y年%m月%d日}" if document.drafted_on else "日期：", st["body"]),
        Spacer(1, 8),
        _para("签名在枫桥平台上对本文件的SHA-256摘要进行，签名记录与本文件一同保存。", st["small"]),
    ]
    return _pdf(story, title=f"人民调解协议书 {document.number}")


def render_handover_pdf(*, dispute: Dispute, referral: Referral) -> bytes:
    """The file handed over on referral: the dispute, its parties, its events, sessions and the
    agreement if any."""
    from reportlab.platypus import Spacer

    st = _styles()
    local = timezone.localtime
    story = [
        _para("矛盾纠纷移交函", st["title"]),
        _para(f"编号：{dispute.number}　　纠纷类型：{dispute.type.name_zh}", st["meta"]),
        _para(f"移交去向：{referral.get_route_display()}　{referral.body}", st["body"]),
        _para(f"移交理由：{referral.reason}", st["body"]),
        _para(f"移交时间：{local(referral.referred_at):%Y-%m-%d %H:%M}", st["body"]),
        _para("一、当事人", st["heading"]),
        *[_para(_party_text(PartyLine(p.role, p.kind, p.name, p.id_number, p.address, p.representative)), st["body"])
          for p in dispute.parties.all()],
        _para("二、纠纷事实与请求", st["heading"]),
        _para(dispute.facts, st["body"]),
        _para(f"请求：{dispute.claims or '—'}", st["body"]),
        _para(f"涉及金额：{dispute.amount if dispute.amount is not None else '—'} 元　风险等级："
              f"{dispute.get_risk_level_display() or '—'}　受理方式：{dispute.get_intake_mode_display()}"
              + (f"　来源案件：{dispute.origin_case_number}" if dispute.origin_case_number else ""), st["body"]),
        _para("三、调解经过", st["heading"]),
    ]
    for session in dispute.sessions.order_by("starts_at"):
        story.append(_para(f"{local(session.starts_at):%Y-%m-%d %H:%M}–{local(session.ends_at):%H:%M} "
                           f"{session.get_mode_display()} {session.get_state_display()}"
                           + (f"：{session.minutes}" if session.minutes else ""), st["body"]))
    story.append(_para("四、处理记录", st["heading"]))
    for event in dispute.events.order_by("seq"):
        story.append(_para(f"{local(event.created_at):%Y-%m-%d %H:%M} {event.get_action_display()} "
                           f"{event.actor_label} {event.reason}", st["small"]))
    agreement = dispute.agreements.order_by("-revision").first()
    if agreement is not None:
        story += [_para("五、调解协议", st["heading"]),
                  _para(f"第{agreement.revision}稿，{agreement.get_state_display()}，SHA-256：{agreement.pdf_hash}",
                        st["body"]),
                  _para(agreement.obligations, st["body"])]
    story += [Spacer(1, 12), _para(f"移交单位：{dispute.organisation.name_zh if dispute.organisation is not None else ''}",
                                   st["body"])]
    return _pdf(story, title=f"矛盾纠纷移交函 {dispute.number}")
