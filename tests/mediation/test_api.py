"""The dispute API: create with an idempotency key, actions with versions, scope, errors, statistics."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from fengqiao.api.tokens import api_token_create
from fengqiao.mediation.models import Dispute
from tests.mediation.conftest import APPLICANT_PHONE, RESPONDENT_PHONE

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, client, user):
        self.client = client
        self.headers = {"Authorization": f"Bearer {api_token_create(user=user, name='tests').plain}"}

    def get(self, path, data=None):
        return self.client.get(f"/api/v1/disputes{path}", data or {}, headers=self.headers, secure=True)

    def post(self, path, body=None, **headers):
        return self.client.post(f"/api/v1/disputes{path}", json.dumps(body or {}), content_type="application/json",
                                headers={**self.headers, **headers}, secure=True)


BODY = {
    "type": "neighbour", "title": "邻里排水沟纠纷", "facts": "张家修排水沟，雨水流入李家院子。", "claims": "改建排水沟",
    "amount": "2000.00", "parties": [
        {"role": "applicant", "name": "李小明", "phone": APPLICANT_PHONE},
        {"role": "respondent", "name": "张大山", "phone": RESPONDENT_PHONE}],
}


def test_create_act_and_read(client, world):
    api = Api(client, world.centre)
    body = {**BODY, "grid": world.grid.code}
    response = api.post("", body, **{"Idempotency-Key": "abc"})
    assert response.status_code == 201, response.content
    created = response.json()
    number = created["number"]
    assert len(created["access_codes"]) == 2
    assert created["parties"][0]["name"] == "李**" and created["parties"][0]["phone"] == "138****1111"
    assert "assess" in created["actions"]
    again = api.post("", body, **{"Idempotency-Key": "abc"})
    assert again.status_code == 201 and again.json()["number"] == number and again.json()["access_codes"] is None
    assert Dispute.objects.count() == 1

    response = api.post(f"/{number}/assess", {"version": 1, "answers": {"people_involved": 2}})
    assert response.status_code == 200 and response.json()["state"] == "assessed"
    stale = api.post(f"/{number}/assess", {"version": 1, "answers": {}})
    assert stale.status_code == 409 and stale.json()["errors"][0]["code"] == "stale_version"

    matches = api.get(f"/{number}/matches").json()
    assert len(matches["proposals"]) == 3
    mediator_id = matches["proposals"][0]["mediator"]
    response = api.post(f"/{number}/assign", {"version": 2, "mediator": mediator_id})
    assert response.status_code == 200 and response.json()["state"] == "assigned"

    mediator_api = Api(client, world.mediators[0].user)
    start = world.clock.now + timedelta(days=1)
    response = mediator_api.post(f"/{number}/schedule", {
        "version": 3, "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
        "place": "村委会"})
    assert response.status_code == 200, response.content
    session_id = response.json()["sessions"][0]["id"]
    ics = mediator_api.get(f"/sessions/{session_id}.ics")
    assert ics.status_code == 200 and b"BEGIN:VCALENDAR" in ics.content
    listed = mediator_api.get("", {"mine": "true"}).json()
    assert [d["number"] for d in listed["items"]] == [number]

    response = mediator_api.post(f"/{number}/draft_agreement", {
        "version": 4, "facts": "事实", "points_in_dispute": "争议", "responsibilities": "责任", "obligations": "义务",
        "performance_manner": "方式", "performance_deadline": "2026-04-01"})
    assert response.status_code == 200, response.content
    agreement = response.json()["agreement"]
    pdf = mediator_api.get(f"/{number}/agreement.pdf")
    assert pdf.status_code == 200 and hashlib.sha256(pdf.content).hexdigest() == agreement["hash"]
    wrong = mediator_api.post(f"/{number}/sign", {"agreement": agreement["id"], "shown_hash": "0" * 64,
                                                  "signature_text": "调解员"})
    assert wrong.status_code == 409 and wrong.json()["errors"][0]["code"] == "agreement_changed"
    signed = mediator_api.post(f"/{number}/sign", {"agreement": agreement["id"], "shown_hash": agreement["hash"],
                                                   "signature_text": "调解员"})
    assert signed.status_code == 200
    assert [s["signed_at"] is not None for s in signed.json()["agreement"]["signatures"]] == [False, False, True]

    stats = api.get("/statistics").json()
    assert stats["total"] == 1 and stats["open"] == 1


def test_scope_and_errors(client, world):
    dispute = world.register()
    other = Api(client, world.other_centre)
    assert other.get(f"/{dispute.number}").status_code == 404
    assert other.post(f"/{dispute.number}/assess", {"version": 1, "answers": {}}).status_code == 404
    assert other.get("").json()["items"] == []
    api = Api(client, world.centre)
    bad = api.post("", {**BODY, "type": "nope", "grid": "999"})
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"type", "grid"}
    extra = api.post(f"/{dispute.number}/assess", {"version": 1, "answers": {}, "surprise": 1})
    assert extra.status_code == 422
    no_reason = api.post(f"/{dispute.number}/withdraw", {"version": 1, "reason": " "})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    wrong_state = api.post(f"/{dispute.number}/fail", {"version": 1, "reason": "x"})
    assert wrong_state.status_code == 409
    reveal = api.post(f"/{dispute.number}/parties/reveal", {"reason": "通知"})
    assert reveal.status_code == 200 and reveal.json()[0]["phone"] == APPLICANT_PHONE


def test_errors_in_chinese(client, world):
    dispute = world.register()
    api = Api(client, world.centre)
    response = client.post(f"/api/v1/disputes/{dispute.number}/withdraw", json.dumps({"version": 1, "reason": " "}),
                           content_type="application/json",
                           headers={**api.headers, "Accept-Language": "zh-hans"}, secure=True)
    assert response.status_code == 422 and response.json()["errors"][0]["message"] == "请填写理由。"
    stale = client.post(f"/api/v1/disputes/{dispute.number}/assess", json.dumps({"version": 7, "answers": {}}),
                        content_type="application/json", headers={**api.headers, "Accept-Language": "zh-hans"},
                        secure=True)
    assert stale.status_code == 409 and "请刷新后重试" in stale.json()["errors"][0]["message"]
