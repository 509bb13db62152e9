"""Error pages speak the user's language inside the staff shell."""

import pytest

pytestmark = pytest.mark.django_db


def test_not_found_in_chinese_and_english(client):
    zh = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert zh.status_code == 404 and "未找到" in zh.content.decode()
    en = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en")
    assert en.status_code == 404 and "Not found" in en.content.decode()
