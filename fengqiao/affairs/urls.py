from django.urls import path

from fengqiao.affairs.views import public, qr, staff

app_name = "affairs"
urlpatterns = [
    # residents' pages
    path("", public.notices, name="home"),
    path("notices/", public.notices, name="notices"),
    path("notices/<int:notice_id>/", public.notice, name="notice"),
    path("files/<int:attachment_id>/", public.attachment, name="attachment"),
    path("disclosures/", public.disclosures, name="disclosures"),
    path("disclosures/<int:disclosure_id>/", public.disclosure, name="disclosure"),
    path("disclosures/<int:disclosure_id>/ask/", public.disclosure_ask, name="disclosure_ask"),
    path("disclosures/<int:disclosure_id>/asked/", public.disclosure_asked, name="disclosure_asked"),
    path("appointments/", public.appointments, name="appointments"),
    path("appointments/<int:service_id>/", public.service_book, name="service"),
    path("appointments/manage/", public.booking_manage, name="booking_manage"),
    path("appointments/booking/<str:code>/", public.booking, name="booking"),
    path("appointments/booking/<str:code>/calendar.ics", public.booking_calendar, name="booking_ics"),
    # staff pages
    path("staff/", staff.home, name="staff_home"),
    path("staff/notices/", staff.notice_list, name="staff_notices"),
    path("staff/notices/new/", staff.notice_new, name="staff_notice_new"),
    path("staff/notices/<int:notice_id>/", staff.notice_edit, name="staff_notice"),
    path("staff/notices/<int:notice_id>/<str:action>/", staff.notice_action, name="staff_notice_action"),
    path("staff/disclosures/", staff.disclosure_list, name="staff_disclosures"),
    path("staff/disclosures/new/", staff.disclosure_new, name="staff_disclosure_new"),
    path("staff/disclosures/<int:disclosure_id>/", staff.disclosure_edit, name="staff_disclosure"),
    path("staff/disclosures/<int:disclosure_id>/<str:action>/", staff.disclosure_action,
         name="staff_disclosure_action"),
    path("staff/appointments/", staff.appointments, name="staff_appointments"),
    path("staff/appointments/bookings/<int:booking_id>/mark/", staff.booking_mark, name="staff_booking_mark"),
    path("staff/appointments/<int:service_id>/generate/", staff.slots_generate, name="staff_slots_generate"),
    path("staff/appointments/<int:service_id>/slots/", staff.slot_add, name="staff_slot_add"),
    path("staff/files/<int:attachment_id>/", staff.attachment, name="staff_attachment"),
    path("staff/qr/", qr.sheet, name="staff_qr"),
    path("staff/qr/<str:code>.pdf", qr.sheet_pdf, name="staff_qr_pdf"),
    path("staff/qr/asset/<str:code>.svg", qr.asset_svg, name="staff_qr_asset"),
    path("staff/qr/region/<str:code>.svg", qr.region_svg, name="staff_qr_region"),
]
