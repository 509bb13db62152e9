# ruff: noqa: F811  (fixtures imported from tests/browser/test_field.py are requested by name)
"""The field app's open points, in Chromium at phone size: photos made smaller in the browser before
upload, the map to tap the position on when the phone does not share it, and signing out without
leaving the user's offline data (kept pages, queued reports) on the phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from fengqiao.cases.models import Case
from tests.browser.test_desk import click_on_map
from tests.browser.test_field import field, fill_report, shoot, sign_in  # noqa: F401
from tests.factories import jpeg_bytes

pytestmark = pytest.mark.browser

OUTBOX = """() => new Promise((resolve, reject) => {
    const open = indexedDB.open("fengqiao-field", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("outbox", {keyPath: "key"});
    open.onsuccess = () => {
        const request = open.result.transaction("outbox").objectStore("outbox").getAll();
        request.onsuccess = () => { open.result.close(); resolve(request.result.map(r => r.user)); };
        request.onerror = () => reject(request.error);
    };
})"""
CACHES = "() => caches.keys().then(keys => keys.filter(k => k.startsWith('fengqiao-field-')))"
KEPT = "() => caches.keys().then(keys => keys.some(k => k.startsWith('fengqiao-field-')))"  # the worker kept pages


def test_a_large_photo_is_made_smaller_before_upload(page, field, request):
    sign_in(page, field.worker.username)
    page.goto("/field/report/")
    fill_report(page, "楼道堆放杂物，堵塞消防通道")
    page.set_input_files("#id_photos", files=[
        {"name": "big.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((3200, 2400))},
        {"name": "small.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((640, 480))},
    ])
    page.click("#report-submit")
    expect(page.locator("#report-result")).to_contain_text(re.compile(r"\d{9}-\d{8}-\d+"))
    case = Case.objects.get()
    sizes = sorted((a.width, a.height) for a in case.attachments.all())
    assert sizes == [(640, 480), (1600, 1200)]  # the long side to 1600 px, proportions kept; small ones as they were
    shoot(page, request, "workbench_photos_sent")


def test_without_the_phones_position_the_worker_taps_it_on_the_map(page, field, request):
    page.context.clear_permissions()  # the user said no to sharing the position
    sign_in(page, field.worker.username)
    page.goto("/field/report/")
    box = page.locator("#pick-map-box")
    expect(box).to_be_visible()
    expect(page.locator("#geo-status")).not_to_be_empty()
    expect(page.locator("#pick-on-map")).to_have_attribute("aria-expanded", "true")
    shoot(page, request, "workbench_map_fallback")

    lon, lat = field.territory.grid_centre(field.grid)
    click_on_map(page, lon, lat)
    expect(page.locator("#id_lon")).not_to_have_value("")
    expect(page.locator("#pick-map-picked")).to_contain_text(field.grid.code)
    assert abs(float(page.input_value("#id_lon")) - lon) < 1e-3
    assert abs(float(page.input_value("#id_lat")) - lat) < 1e-3

    page.set_input_files("#id_photos", files=[{"name": "m.jpg", "mimeType": "image/jpeg",
                                               "buffer": jpeg_bytes((640, 480))}])
    page.fill("#category-search", "消防通道")
    page.locator(".cat:visible").click()
    page.fill("#id_description", "楼道消防通道被电动车堵住")
    page.click("#report-submit")
    expect(page.locator("#report-result")).to_contain_text(re.compile(r"\d{9}-\d{8}-\d+"))
    assert Case.objects.get().grid == field.grid
    shoot(page, request, "workbench_map_sent")


CACHED_URLS = """() => caches.keys().then(keys => Promise.all(keys.map(k => caches.open(k).then(c => c.keys()))))
    .then(lists => lists.flat().map(r => r.url))"""


def test_the_map_opened_once_online_works_offline(page, field, request):
    """The charting library is not fetched at install on a slow connection, but kept once used."""
    sign_in(page, field.worker.username)
    page.goto("/field/report/")
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")  # installed and active
    if not page.evaluate("() => navigator.serviceWorker.controller !== null"):
        page.reload()  # the page opened while the worker was activating: the next load is its
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    assert not any("echarts" in url for url in page.evaluate(CACHED_URLS))  # not at install
    page.click("#pick-on-map")
    page.wait_for_function("() => window.FengqiaoGridPick && FengqiaoGridPick.pickers.length > 0")
    for _ in range(150):  # the worker stores the 1.1 MB file after handing it to the page
        if any("echarts" in url for url in page.evaluate(CACHED_URLS)):
            break
        page.wait_for_timeout(200)
    else:
        pytest.fail(f"the charting library was not kept by the service worker: {page.evaluate(CACHED_URLS)}")

    # only the worker's copy is left: the browser's own cache is emptied, then the network goes
    page.context.new_cdp_session(page).send("Network.clearBrowserCache")
    page.context.set_offline(True)
    page.reload()
    page.click("#pick-on-map")
    lon, lat = field.territory.grid_centre(field.grid)
    click_on_map(page, lon, lat)
    expect(page.locator("#pick-map-picked")).to_contain_text(field.grid.code)
    assert abs(float(page.input_value("#id_lon")) - lon) < 1e-3
    shoot(page, request, "workbench_map_offline")


def _queue_one(page, description: str) -> None:
    """A report that cannot be sent now: the server is unreachable for it, so it waits on the phone."""
    page.route("**/field/report/", lambda route: route.abort() if route.request.method == "POST"
               else route.continue_())
    page.goto("/field/report/")
    expect(page.locator("#outbox")).to_have_attribute("data-queue-state", "idle")
    fill_report(page, description)
    page.click("#report-submit")
    expect(page.locator("#report-result")).to_have_class(re.compile("queued"))
    expect(page.locator("#outbox-count")).to_have_text("1")


def test_signing_out_with_a_queued_report_warns_and_sends_it_first(page, field, request):
    sign_in(page, field.worker.username)
    _queue_one(page, "消防通道堵塞，待发送")
    page.wait_for_function(KEPT)

    page.locator("#signout-form button").click()
    dialog = page.locator("#signout-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-count]")).to_have_text("1")
    shoot(page, request, "workbench_signout_warning")
    dialog.locator("button[data-choice=stay]").click()
    expect(dialog).to_be_hidden()

    # still unreachable: the dialog says so and nothing is lost
    page.locator("#signout-form button").click()
    send = dialog.locator("button[data-choice=send]")
    send.click()
    expect(dialog.locator("[data-result]")).not_to_be_empty()
    expect(send).to_be_enabled(timeout=60_000)  # the attempt has ended (the button is off while it runs)
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-count]")).to_have_text("1")
    assert Case.objects.count() == 0

    page.unroute("**/field/report/")
    with page.expect_navigation():
        dialog.locator("button[data-choice=send]").click()
    assert Case.objects.get().description == "消防通道堵塞，待发送"
    expect(page.locator("#signout-form")).to_have_count(0)  # signed out
    assert page.evaluate(OUTBOX) == []
    assert page.evaluate(CACHES) == []


def test_signing_out_and_deleting_the_queued_report_leaves_nothing_behind(page, field, request):
    sign_in(page, field.worker.username)
    _queue_one(page, "不再需要的上报")
    page.wait_for_function(KEPT)
    assert page.evaluate(OUTBOX) == [field.worker.pk]

    page.locator("#signout-form button").click()
    with page.expect_navigation():
        page.locator("#signout-dialog button[data-choice=delete]").click()
    expect(page.locator("#signout-form")).to_have_count(0)
    assert page.evaluate(OUTBOX) == []
    assert page.evaluate(CACHES) == []
    assert Case.objects.count() == 0
