"""Forms of the mediation pages: they parse what was typed; the services decide what is allowed.

Domain errors come back on the field that caused them (`fengqiao.web.forms.apply_domain_error`), so
a page is shown again with what the user typed and the error in their language.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from fengqiao.mediation.models import (
    FollowUpResult,
    IntakeMode,
    Level,
    PartyKind,
    PartyRole,
    ReferralRoute,
    SessionMode,
)
from fengqiao.mediation.services import (
    NAME_MAX,
    REASON_MAX,
    SIGNATURE_IMAGE_MAX,
    SIGNATURE_TEXT_MAX,
    TEXT_MAX,
    TITLE_MAX,
)
from fengqiao.web.forms import IdempotencyKeyField, VersionField

DATETIME_INPUT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None):
        super().__init__(attrs=attrs, format=DATETIME_INPUT)


def _choice_errors(message: Any) -> dict[str, Any]:
    return {"required": message, "invalid_choice": message}


# -- intake ---------------------------------------------------------------------------------------------
class IntakeForm(forms.Form):
    type = forms.TypedChoiceField(label=_("Type of dispute"), coerce=int,
                                  error_messages=_choice_errors(_("Choose the type of dispute.")))
    title = forms.CharField(label=_("Summary"), max_length=TITLE_MAX,
                            error_messages={"required": _("Summarise the dispute.")})
    facts = forms.CharField(label=_("Facts"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 4}),
                            error_messages={"required": _("Describe the facts.")})
    claims = forms.CharField(label=_("Claims"), max_length=TEXT_MAX, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))
    amount = forms.DecimalField(label=_("Amount at stake (yuan)"), required=False, min_value=0,
                                max_digits=14, decimal_places=2,
                                widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
                                error_messages={"invalid": _("Give the amount as a number of yuan.")})
    intake_mode = forms.ChoiceField(label=_("How the dispute came in"), choices=IntakeMode.choices,
                                    initial=IntakeMode.APPLICATION)
    referred_by = forms.CharField(label=_("Referred by"), max_length=200, required=False)
    origin_case_number = forms.CharField(label=_("Origin case number"), max_length=40, required=False)
    region = forms.ChoiceField(label=_("Village"), required=False)
    grid = forms.ChoiceField(label=_("Grid"), required=False)
    level = forms.ChoiceField(label=_("Level"), choices=Level.choices, initial=Level.TOWNSHIP)
    idempotency_key = IdempotencyKeyField()

    def __init__(self, *args: Any, types: list[tuple[int, str]], regions: list[tuple[str, str]],
                 grids: list[tuple[str, str]], **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", _("Choose a type"))] + types  # type: ignore[attr-defined]
        self.fields["region"].choices = [("", _("Choose a village"))] + regions  # type: ignore[attr-defined]
        self.fields["grid"].choices = [("", _("No grid (the whole village)"))] + grids  # type: ignore[attr-defined]


class PartyForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=PartyRole.choices)
    kind = forms.ChoiceField(label=_("Person or organisation"), choices=PartyKind.choices, initial=PartyKind.PERSON)
    name = forms.CharField(label=_("Name"), max_length=NAME_MAX, error_messages={"required": _("Give the party's name.")})
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False,
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "inputmode": "tel"}))
    id_number = forms.CharField(label=_("ID number"), max_length=30, required=False,
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))
    address = forms.CharField(label=_("Address"), max_length=300, required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "off"}))
    representative = forms.CharField(label=_("Representative"), max_length=NAME_MAX, required=False)

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


PartyFormSet = forms.formset_factory(PartyForm, extra=0, min_num=2, validate_min=True, max_num=20, validate_max=True)


# -- risk and assignment -----------------------------------------------------------------------------------
class AssessForm(forms.Form):
    """The checklist: one field per active RiskRule (a tick, or a number for numeric items)."""

    version = VersionField()
    note = forms.CharField(label=_("Note"), max_length=REASON_MAX, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, rules: list[Any], **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.rules = rules
        for rule in rules:
            if rule.numeric:
                self.fields[f"answer_{rule.code}"] = forms.IntegerField(
                    label=rule.name, required=False, min_value=0, max_value=1_000_000,
                    widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
            else:
                self.fields[f"answer_{rule.code}"] = forms.BooleanField(label=rule.name, required=False)

    def answers(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for rule in self.rules:
            value = self.cleaned_data.get(f"answer_{rule.code}")
            if rule.numeric:
                if value is not None:
                    out[rule.code] = value
            elif value:
                out[rule.code] = True
        return out

    def answer_fields(self) -> list[forms.BoundField]:
        return [self[f"answer_{rule.code}"] for rule in self.rules]


class ReasonForm(forms.Form):
    version = VersionField()
    reason = forms.CharField(label=_("Reason"), max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": _("Give a reason.")})


class AssignForm(forms.Form):
    version = VersionField()
    mediator = forms.IntegerField(error_messages={"required": _("Choose a mediator."),
                                                  "invalid": _("Choose a mediator.")})
    reason = forms.CharField(max_length=REASON_MAX, required=False)


class ReplaceForm(AssignForm):
    reason = forms.CharField(max_length=REASON_MAX, error_messages={"required": _("Give a reason.")})


class ReferForm(forms.Form):
    version = VersionField()
    route = forms.ChoiceField(label=_("Refer to"), choices=ReferralRoute.choices,
                              error_messages=_choice_errors(_("Choose where the dispute goes.")))
    organisation = forms.IntegerField(label=_("Mediation body"), required=False)
    body = forms.CharField(label=_("Receiving body"), max_length=200, required=False)
    reason = forms.CharField(label=_("Reason"), max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": _("Give a reason.")})


class AccessCodeForm(forms.Form):
    party = forms.IntegerField(error_messages={"required": _("Choose a party."), "invalid": _("Choose a party.")})


class RevealForm(forms.Form):
    reason = forms.CharField(label=_("Why you need the contact data"), max_length=300,
                             error_messages={"required": _("Say why you need the parties' contact data.")})


# -- sessions ------------------------------------------------------------------------------------------------
class ScheduleForm(forms.Form):
    version = VersionField()
    starts_at = forms.DateTimeField(label=_("Starts"), input_formats=[DATETIME_INPUT], widget=DateTimeLocalInput(),
                                    error_messages={"required": _("Give the start."),
                                                    "invalid": _("Give a date and time.")})
    ends_at = forms.DateTimeField(label=_("Ends"), input_formats=[DATETIME_INPUT], widget=DateTimeLocalInput(),
                                  error_messages={"required": _("Give the end."), "invalid": _("Give a date and time.")})
    mode = forms.ChoiceField(label=_("Kind of session"), choices=SessionMode.choices, initial=SessionMode.IN_PERSON)
    room = forms.IntegerField(label=_("Room"), required=False)
    place = forms.CharField(label=_("Other place"), max_length=200, required=False)
    meeting_link = forms.CharField(label=_("Meeting link"), max_length=300, required=False,
                                   widget=forms.URLInput())

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class RecordForm(forms.Form):
    version = VersionField()
    session = forms.IntegerField(widget=forms.HiddenInput)
    minutes = forms.CharField(label=_("Minutes"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 4}),
                              error_messages={"required": _("Write the minutes.")})

    def attendance(self, data: Any, party_ids: list[int]) -> dict[int, bool]:
        present = set(data.getlist("present"))
        return {pk: str(pk) in present for pk in party_ids}


class CancelSessionForm(ReasonForm):
    session = forms.IntegerField(widget=forms.HiddenInput)


# -- agreement -----------------------------------------------------------------------------------------------
class AgreementForm(forms.Form):
    """The fields of 人民调解法 Art. 29 (the parties come from the dispute)."""

    version = VersionField()
    facts = forms.CharField(label=_("Facts"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 4}))
    points_in_dispute = forms.CharField(label=_("Points in dispute"), max_length=TEXT_MAX,
                                        widget=forms.Textarea(attrs={"rows": 3}))
    responsibilities = forms.CharField(label=_("Responsibilities"), max_length=TEXT_MAX,
                                       widget=forms.Textarea(attrs={"rows": 3}))
    obligations = forms.CharField(label=_("Agreed obligations"), max_length=TEXT_MAX,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    performance_manner = forms.CharField(label=_("Manner of performance"), max_length=TEXT_MAX,
                                         widget=forms.Textarea(attrs={"rows": 2}))
    performance_deadline = forms.DateField(label=_("Performance deadline"),
                                           widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                                           error_messages={"invalid": _("Give a date.")})
    other_terms = forms.CharField(label=_("Other terms"), max_length=TEXT_MAX, required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        required = _("This field of the agreement is required (人民调解法 Art. 29).")
        for name in ("facts", "points_in_dispute", "responsibilities", "obligations", "performance_manner",
                     "performance_deadline"):
            self.fields[name].error_messages["required"] = required


class SignatureForm(forms.Form):
    """A signature on the agreement as shown: the hash of the PDF the page showed, and a typed name
    or a drawn signature (a PNG from the canvas, as a data URL)."""

    shown_hash = forms.CharField(max_length=64, min_length=64, widget=forms.HiddenInput,
                                 error_messages={"required": _("The page is out of date. Reload it and try again."),
                                                 "min_length": _("The page is out of date. Reload it and try again.")})
    signature_text = forms.CharField(label=_("Type your full name"), max_length=SIGNATURE_TEXT_MAX, required=False,
                                     widget=forms.TextInput(attrs={"autocomplete": "name"}))
    signature_image = forms.CharField(required=False, widget=forms.HiddenInput,
                                      max_length=SIGNATURE_IMAGE_MAX * 2)
    agreed = forms.BooleanField(label=_("I have read the agreement and agree to it."),
                                error_messages={"required": _("Confirm that you have read the agreement.")})

    PREFIX = "data:image/png;base64,"

    def clean_signature_image(self) -> bytes | None:
        value = self.cleaned_data.get("signature_image") or ""
        if not value:
            return None
        if value.startswith(self.PREFIX):
            value = value[len(self.PREFIX):]
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise forms.ValidationError(_("The drawn signature is not a readable PNG image.")) from None


class MediatorSignForm(SignatureForm):
    version = VersionField(required=False)
    agreement = forms.IntegerField(widget=forms.HiddenInput)


# -- endings --------------------------------------------------------------------------------------------------
class FollowUpScheduleForm(forms.Form):
    version = VersionField()
    due_at = forms.DateTimeField(label=_("Visit on"), input_formats=[DATETIME_INPUT], widget=DateTimeLocalInput(),
                                 error_messages={"required": _("Give a date and time."),
                                                 "invalid": _("Give a date and time.")})


class FollowUpForm(forms.Form):
    version = VersionField()
    follow_up = forms.IntegerField(widget=forms.HiddenInput)
    result = forms.ChoiceField(label=_("Result"), choices=FollowUpResult.choices,
                               error_messages=_choice_errors(_("Say whether the agreement was performed.")))
    note = forms.CharField(label=_("Note"), max_length=REASON_MAX, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))


# -- the parties' pages -------------------------------------------------------------------------------------
class PartyAccessForm(forms.Form):
    code = forms.CharField(label=_("Access code"), max_length=30,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                                         "spellcheck": "false"}),
                           error_messages={"required": _("Give the access code you were handed.")})
    phone_last4 = forms.CharField(label=_("Last 4 digits of your phone number"), max_length=4, min_length=4,
                                  widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off",
                                                                "pattern": "[0-9]{4}"}),
                                  error_messages={"required": _("Give the last 4 digits of your phone number."),
                                                  "min_length": _("Give the last 4 digits of your phone number.")})

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_phone_last4(self) -> str:
        value = self.cleaned_data["phone_last4"].strip()
        if not value.isdigit():
            raise forms.ValidationError(_("Give the last 4 digits of your phone number."))
        return value


class RateForm(forms.Form):
    rating = forms.TypedChoiceField(label=_("Your rating"), coerce=int, choices=[(n, str(n)) for n in range(1, 6)],
                                    widget=forms.RadioSelect,
                                    error_messages=_choice_errors(_("Choose from 1 to 5 stars.")))
    comment = forms.CharField(label=_("Comment (optional)"), max_length=REASON_MAX, required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))


class AskForAnotherForm(forms.Form):
    reason = forms.CharField(label=_("Why you want another mediator"), max_length=REASON_MAX,
                             widget=forms.Textarea(attrs={"rows": 2}), error_messages={"required": _("Say why.")})
