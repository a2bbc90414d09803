"""The page of `classicfy serve` in a real browser: headless Chromium uploads a recording and shows
the answer `classicfy predict` gives. CI installs Debian's chromium and chromium-driver."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from helpers import free_port, run_cli

# CI installs the browser and must run this test; elsewhere a machine without one skips it.
if not shutil.which("chromedriver") and os.environ.get("CI") != "true":
    pytest.skip("needs chromium-driver (apt-get install chromium chromium-driver)", allow_module_level=True)


@pytest.fixture
def server(trained, tmp_path):
    data, run, _ = trained
    port = free_port()
    command = [sys.executable, "-m", "classicfy", "serve", str(run), "--port", str(port), "--device", "cpu"]
    temporary = tmp_path / "server-tmp"
    temporary.mkdir()
    environment = os.environ | {"TMPDIR": str(temporary)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/readyz", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    yield data, run, url
    process.terminate()
    assert process.wait(timeout=30) == 0  # SIGTERM stops it cleanly
    assert list(temporary.iterdir()) == []  # and leaves no temporary file


def test_a_client_that_goes_away_mid_upload_leaves_no_temporary_file(server, tmp_path):
    _, _, url = server
    port = int(url.rsplit(":", 1)[1])
    head = (f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {5 * 2**20}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\nContent-Disposition: form-data; "
            'name="file"; filename="x.flac"\r\n\r\n')  # fmt: skip
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(head.encode() + b"\0" * (2 * 2**20))
    time.sleep(1)
    uploads = list((tmp_path / "server-tmp").glob("classicfy-serve-*/*"))
    assert uploads == [] and urllib.request.urlopen(f"{url}/healthz", timeout=5).status == 200


def _chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=420,900"):
        options.add_argument(argument)  # a phone-sized window
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser:
        options.binary_location = browser
    driver = shutil.which("chromedriver")
    return webdriver.Chrome(options=options, service=Service(driver) if driver else None)


def test_a_recording_uploaded_on_the_page_gets_the_label_predict_gives(server, tmp_path):
    data, run, url = server
    recording = sorted(data.rglob("*.flac"))[-1]
    expected = json.loads(run_cli("predict", str(run), str(recording), "--format", "json").stdout)[0]["label"]
    browser = _chromium()
    try:
        browser.get(url)
        WebDriverWait(browser, 30).until(lambda b: "labels" in b.find_element(By.ID, "model-line").text)
        browser.find_element(By.ID, "file").send_keys(str(recording))
        WebDriverWait(browser, 120).until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-state")
                                          in ("answered", "failed"))  # fmt: skip
        shown = browser.find_element(By.ID, "answer-label").text
        timeline = browser.find_element(By.ID, "timeline")
        browser.save_screenshot(str(tmp_path / "page.png"))
        assert (tmp_path / "page.png").stat().st_size > 10_000
        assert shown == expected and timeline.size["height"] > 100
        assert len(browser.find_elements(By.CSS_SELECTOR, "#bars .row")) == min(5, len(json.loads(
            (run / "labels.json").read_text())))  # fmt: skip
    finally:
        browser.quit()
