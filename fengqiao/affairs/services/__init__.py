"""Every write of village affairs (DESIGN §6): keyword-only, typed, atomic services, one module per
concept: notices, disclosures (with the committee's review and residents' questions), appointments."""

from fengqiao.affairs.services.appointments import (
    booking_cancel,
    booking_create,
    booking_find,
    booking_mark,
    booking_reschedule,
    generate_all_slots,
    slot_add,
    slot_close,
    slots_generate,
)
from fengqiao.affairs.services.common import Upload
from fengqiao.affairs.services.disclosures import (
    ItemInput,
    disclosure_ask,
    disclosure_create,
    disclosure_publish,
    disclosure_review,
    disclosure_submit,
    disclosure_update,
    disclosure_withdraw,
)
from fengqiao.affairs.services.notices import notice_create, notice_publish, notice_update, notice_withdraw

__all__ = [
    "ItemInput", "Upload", "booking_cancel", "booking_create", "booking_find", "booking_mark", "booking_reschedule",
    "disclosure_ask", "disclosure_create", "disclosure_publish", "disclosure_review", "disclosure_submit",
    "disclosure_update", "disclosure_withdraw", "generate_all_slots", "notice_create", "notice_publish",
    "notice_update", "notice_withdraw", "slot_add", "slot_close", "slots_generate",
]
