"""Item 9 (app, only with --items app and --app_ensemble_dir D): the Gradio app under load, and its picture.

Serves D with recipes/app.py's app on a free local port, then 8 clients (gradio_client, one thread
each) send 200 `/classify` requests in all, with test comments: every answer is checked against
`Ensemble.predict`, and the failures and the latency (median, 95th percentile, from the request to
the answer, queueing included) are recorded. With --app_screenshot PATH, a headless Chromium
(selenium + Debian's chromium and chromium-driver) types an example comment, classifies it and saves
the page as PNG.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import numpy as np

from hf_trainer.serving.inference import Ensemble

logger = logging.getLogger("hf_trainer.benchmark")
CLIENTS, REQUESTS = 8, 200


def run(splits, args) -> dict:
    from hf_trainer.serving.app import build_app, launch, test_metrics

    folder = Path(args.app_ensemble_dir)
    ensemble = Ensemble.from_pretrained(str(folder))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = build_app(ensemble, test_metrics(str(folder)))
    launch(app, "127.0.0.1", port, block=False)
    url = f"http://127.0.0.1:{port}/"
    try:
        result = {"app_load": load(ensemble, url, list(splits["test"]["text"]))}
        if args.app_screenshot:
            result["app_screenshot"] = screenshot(url, args.app_screenshot)
        return result
    finally:
        app.close()


def load(ensemble: Ensemble, url: str, texts: list[str]) -> dict:
    from gradio_client import Client

    texts = texts[:REQUESTS]
    latencies: list[float] = []
    failures: list[str] = []
    answered = [0]
    lock = threading.Lock()

    def client(worker: int) -> None:
        api = Client(url, verbose=False)
        for i in range(worker, len(texts), CLIENTS):
            start = time.perf_counter()
            try:
                label, _, _, _ = api.predict(texts[i], api_name="/classify")
                with lock:
                    answered[0] += 1
                got = {c["label"]: c["confidence"] for c in label["confidences"]}
                expected = ensemble.predict([texts[i]])[0]["scores"]
                ok = all(abs(got[k] - v) <= 1e-6 for k, v in expected.items())
            except Exception as err:  # noqa: BLE001 - a failed request is a figure here
                ok, got = False, repr(err)
            with lock:
                latencies.append(time.perf_counter() - start)
                if not ok:
                    failures.append(f"request {i}: {got}")

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(w,)) for w in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {
        "clients": CLIENTS, "requests": len(texts), "answered": answered[0], "failed": len(failures),
        "failures": failures[:5], "median_latency_s": float(np.median(latencies)),
        "p95_latency_s": float(np.percentile(latencies, 95)), "wall_s": wall, "requests_per_s": len(texts) / wall,
    }  # fmt: skip


def screenshot(url: str, path: str) -> str:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    from hf_trainer.serving.app import EXAMPLES

    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1280,1500",
        "--lang=ko-KR",
    ):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=webdriver.ChromeService("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 60)
        box = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "textarea")))
        box.send_keys(EXAMPLES[0])
        driver.find_element(By.XPATH, "//button[normalize-space()='Classify']").click()
        wait.until(
            lambda d: (
                "여성/가족" in d.find_element(By.TAG_NAME, "body").text and "| label" not in d.page_source
            )
        )
        time.sleep(3)  # the label bars and highlights animate in
        driver.save_screenshot(path)
    finally:
        driver.quit()
    return path


def rows(result: dict) -> list[tuple[str, str]]:
    load = result["app_load"]
    return [(
        f"app: {load['requests']} /classify requests from {load['clients']} clients (answered / failed; latency median / p95)",
        f"{load['answered']} / {load['failed']}; {load['median_latency_s']:.3f} s / {load['p95_latency_s']:.3f} s "
        f"({load['requests_per_s']:.1f} requests/s)",
    )]  # fmt: skip
