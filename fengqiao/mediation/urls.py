from django.urls import path

from fengqiao.mediation.views import desk, dispute, party, workspace

app_name = "mediation"
urlpatterns = [
    # staff
    path("", desk.desk, name="desk"),
    path("intake/", desk.intake, name="intake"),
    path("statistics/", desk.stats, name="stats"),
    path("workspace/", workspace.workspace, name="workspace"),
    path("d/<str:number>/", dispute.dispute_page, name="dispute"),
    path("d/<str:number>/agreement/", dispute.draft, name="draft"),
    path("d/<str:number>/agreement/<int:agreement_id>.pdf", dispute.agreement_pdf, name="agreement_pdf"),
    path("d/<str:number>/referral/<int:referral_id>.pdf", dispute.handover_pdf, name="handover_pdf"),
    path("d/<str:number>/<slug:action>/", dispute.dispute_action, name="action"),
    path("sessions/<int:session_id>.ics", dispute.session_ics, name="session_ics"),
    # parties (public)
    path("party/", party.access, name="party_access"),
    path("party/dispute/", party.party_dispute, name="party_dispute"),
    path("party/agreement.pdf", party.party_agreement_pdf, name="party_agreement_pdf"),
    path("party/sessions/<int:session_id>.ics", party.party_session_ics, name="party_session_ics"),
    path("party/sign/", party.party_sign, name="party_sign"),
    path("party/rate/", party.party_rate, name="party_rate"),
    path("party/another-mediator/", party.party_ask_for_another, name="party_another"),
    path("party/leave/", party.party_leave, name="party_leave"),
]
