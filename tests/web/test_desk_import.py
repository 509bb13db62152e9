"""The desk's bulk intake page: check a CSV file, then take in every row or none."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from fengqiao.cases.models import Case, CaseSequence
from fengqiao.web.views import desk

pytestmark = pytest.mark.django_db
IMPORT = reverse("web:desk_import")
TEMPLATE = reverse("web:desk_import_template")


def _file(text: str, name: str = "reports.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def _good(loop) -> str:
    lon, lat = loop.point()
    return ("category,description,lon,lat,grid,urgency\n"
            f"0601,占道经营摊位,{lon},{lat},,\n"
            f"0601,夜市占道,,,{loop.territory.grids[1].code},urgent\n")


def test_the_page_is_for_intake_staff(client, loop, signed_in, english_pages):
    assert client.get(IMPORT).status_code == 302  # sign in first
    for who in (loop.grid_worker, loop.handler):
        assert signed_in(who).get(IMPORT).status_code == 403
        assert client.post(IMPORT, {"file": _file(_good(loop)), "take": "1"}).status_code == 403
    assert not Case.objects.exists()
    page = signed_in(loop.operator).get(IMPORT)
    assert page.status_code == 200
    assert b"Check the file" in page.content and b"Take in every row" in page.content
    assert b"Take in a file" in signed_in(loop.operator).get(reverse("web:desk")).content


def _hidden(page: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page).group(1))


def test_check_then_take_in_without_a_second_upload(client, loop, signed_in, english_pages):
    signed_in(loop.operator)
    checked = client.post(IMPORT, {"file": _file(_good(loop)), "channel": "hotline", "check": "1"})
    assert checked.status_code == 200
    page = checked.content.decode()
    assert "reports.csv is good: its 2 rows can be taken in" in page and "Take in these 2 rows" in page
    assert not Case.objects.exists() and not CaseSequence.objects.exists()

    # the page sends the checked text back; it is checked again in full
    assert _hidden(page, "text") == _good(loop)
    sent_back = {"text": _hidden(page, "text"), "file_name": _hidden(page, "file_name"),
                 "channel": _hidden(page, "channel"), "idempotency_key": _hidden(page, "idempotency_key"),
                 "take": "1"}
    assert sent_back["idempotency_key"]
    taken = client.post(IMPORT, sent_back, follow=True)
    assert taken.redirect_chain[-1][0] == reverse("web:desk")
    assert b"2 cases taken in from reports.csv" in taken.content
    # a second click on the button, or the browser sending the form again: taken in once
    again = client.post(IMPORT, sent_back, follow=True)
    assert b"2 cases taken in from reports.csv" in again.content
    assert Case.objects.count() == 2
    first, second = Case.objects.order_by("number")
    assert (first.channel, first.grid, second.grid, second.urgency) == \
        ("hotline", loop.grid, loop.territory.grids[1], "urgent")
    assert first.reporter_user == loop.operator

    # a text altered on its way back is checked like any file
    altered = {**sent_back, "text": sent_back["text"].replace("0601,夜市", "9999,夜市")}
    refused = client.post(IMPORT, altered)
    assert refused.status_code == 422 and "line 3, category" in refused.content.decode()
    assert Case.objects.count() == 2


def test_a_file_is_taken_in_at_once_too(client, loop, signed_in, english_pages):
    signed_in(loop.operator)
    key = _hidden(client.get(IMPORT).content.decode(), "idempotency_key")
    taken = client.post(IMPORT, {"file": _file(_good(loop)), "take": "1", "idempotency_key": key})
    assert taken.status_code == 302 and Case.objects.filter(channel="import").count() == 2
    # the same upload sent twice is taken in once
    assert client.post(IMPORT, {"file": _file(_good(loop)), "take": "1", "idempotency_key": key}).status_code == 302
    assert Case.objects.count() == 2
    # without a key (a form of an older page), each upload is taken in
    assert client.post(IMPORT, {"file": _file(_good(loop)), "take": "1"}).status_code == 302
    assert Case.objects.count() == 4


def test_a_bad_file_lists_its_lines_and_writes_nothing(client, loop, signed_in, english_pages):
    signed_in(loop.operator)
    lon, lat = loop.point()
    bad = (f"category,description,lon,lat\n0601,好的一行,{lon},{lat}\n9999,类别不存在,{lon},{lat}\n"
           f"0601,,{lon},{lat}\n0601,远处,130,40\n")
    response = client.post(IMPORT, {"file": _file(bad), "take": "1"})
    assert response.status_code == 422
    text = response.content.decode()
    assert "line 3, category" in text  # unreadable: the category code
    assert not Case.objects.exists()

    bad = f"category,description,lon,lat\n0601,好的一行,{lon},{lat}\n0601,,{lon},{lat}\n0601,远处,130,40\n"
    text = client.post(IMPORT, {"file": _file(bad), "take": "1"}).content.decode()
    assert "2 rows cannot be taken in; nothing was written." in text
    assert "line 3, description" in text and "line 4, location" in text and "line 2" not in text
    assert not Case.objects.exists()

    for upload, message in ((_file("category,text\n0601,x\n"), "Missing columns: description"),
                            (SimpleUploadedFile("x.csv", b"", content_type="text/csv"), "The file is empty"),
                            (_file("\xff\xfe".join(["a"] * 3)), "Missing columns")):
        response = client.post(IMPORT, {"file": upload, "check": "1"})
        assert response.status_code == 422 and message in response.content.decode()
    assert client.post(IMPORT, {"check": "1"}).status_code == 422  # no file at all
    assert not Case.objects.exists()


def test_limits_of_the_page(client, loop, signed_in, english_pages, monkeypatch):
    signed_in(loop.operator)
    monkeypatch.setattr(desk, "WEB_IMPORT_MAX_ROWS", 1)
    response = client.post(IMPORT, {"file": _file(_good(loop)), "take": "1"})
    assert response.status_code == 422 and "At most 1 rows a file." in response.content.decode()
    monkeypatch.setattr(desk, "WEB_IMPORT_MAX_BYTES", 10)
    response = client.post(IMPORT, {"file": _file(_good(loop)), "take": "1"})
    assert response.status_code == 422 and "command line" in response.content.decode()
    assert not Case.objects.exists()


def test_the_example_file_can_be_taken_in(client, loop, signed_in, english_pages):
    signed_in(loop.operator)
    response = client.get(TEMPLATE)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["category", "description"] and len(rows) == 2
    taken = client.post(IMPORT, {"file": _file(text), "take": "1"})
    assert taken.status_code == 302 and Case.objects.count() == 1
