"""The Dagster UI as a data engineer uses it, in a real browser: `dagster dev` on a free port
against a temporary instance and a 3-image dataset of real faces; open the asset graph,
launch one partition of `media_inventory` from the asset's Materialize dialog, wait for the
run to succeed, and see the materialisation's markdown preview rendered as a table.

Needs Debian's Chromium (`make browser-deps`; Playwright cannot download its own browser
here) and the `playwright` package (test extra)."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from facesym_pipeline.apps.dev_server import dagster_dev, graphql
from facesym_pipeline.apps.instance_home import instance_yaml
from facesym_pipeline.demo.samples import sample_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DATASET = "ui-mini"
IMAGES = {"stroke_data": ("obama.jpg",), "noStroke_data": ("biden.jpg", "single_face.jpg")}
SERVER_TIMEOUT_S = 240
RUN_TIMEOUT_S = 420


def _ui_runs(base: str) -> list[dict]:
    """Runs launched from the UI for the test's partition."""
    query = (
        '{ runsOrError(filter: {tags: [{key: "dagster/from_ui", value: "true"}, '
        f'{{key: "dagster/partition", value: "{DATASET}"}}]}}) '
        "{ ... on Runs { results { runId status assetSelection { path } } } } }"
    )
    return graphql(base, query)["runsOrError"]["results"]


def _tail(path: Path, n: int = 4000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


@pytest.fixture
def dagster_ui(tmp_path: Path, samples):
    """`dagster dev` on a free port with its own instance, data and warehouse; yields the
    base URL. The process group it starts (webserver, daemon, code server, run workers)
    is stopped at the end."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing: `make browser-deps` installs it")
    import dagster as dg

    data = tmp_path / "data"
    for folder, names in IMAGES.items():
        (data / DATASET / folder).mkdir(parents=True)
        for name in names:
            shutil.copy(sample_path(name), data / DATASET / folder / name)
    home = tmp_path / "dagster_home"
    home.mkdir()
    # Only the run launched from the UI executes: the sensors would otherwise start the
    # whole chain of the new dataset (landmarks, models) next to it.
    (home / "dagster.yaml").write_text(instance_yaml(hold_automated_runs=True))
    env = os.environ | {
        "FACESYM_ROOT": str(tmp_path),
        "FACESYM_DATA": str(data),
        "FACESYM_WAREHOUSE": str(tmp_path / "warehouse"),
        "DAGSTER_HOME": str(home),
        "FACESYM_NATIVE_LOG": str(tmp_path / "native.log"),
    }
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("dataset", [DATASET])

    log_path = tmp_path / "dagster_dev.log"
    with dagster_dev(env, log_path, timeout_s=SERVER_TIMEOUT_S) as base:
        yield base, log_path


def _wait_for_run(base: str, log_path: Path) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = _ui_runs(base)
        if runs:
            run = runs[0]
            assert run["status"] not in ("FAILURE", "CANCELED", "CANCELING"), (
                f"run {run['runId']} {run['status']}:\n{_tail(log_path)}"
            )
            if run["status"] == "SUCCESS":
                return run
        time.sleep(3)
    raise AssertionError(f"no successful UI run after {RUN_TIMEOUT_S} s:\n{_tail(log_path)}")


def _dialog_with_partition(page, tries: int = 3):
    """The asset's Materialize dialog with the test's partition chosen. The community
    prompt can pop up over the page at any moment, and dismissing it closes what is open
    (the dialog or the partition picker): start again then."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    title = "Launch runs to materialize media_inventory"
    for attempt in range(tries):
        try:
            dialog = page.get_by_role("dialog").filter(has_text=title)
            if not dialog.is_visible():
                page.get_by_role("button", name="Materialize…").first.click()
            expect(dialog).to_be_visible(timeout=15_000)
            dialog.get_by_text("Select a partition or create one").click(timeout=15_000)
            picker = page.locator("[data-radix-popper-content-wrapper]").last
            picker.get_by_text(DATASET, exact=True).first.click(timeout=15_000)
            dialog.get_by_text(title).click(timeout=15_000)  # closes the picker
            return dialog
        except (AssertionError, PlaywrightTimeout):
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")
    raise AssertionError("unreachable")


def test_materialise_one_partition_from_the_ui(dagster_ui):
    from playwright.sync_api import expect, sync_playwright

    base, log_path = dagster_ui
    started = time.monotonic()
    # A loaded machine renders slowly: every expectation gets the actions' minute.
    expect.set_options(timeout=60_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.set_default_timeout(60_000)
            # The first visit may open a "Join the Dagster community" dialog over the page.
            page.add_locator_handler(
                page.get_by_role("button", name="Skip", exact=True), lambda skip: skip.click()
            )

            # The asset graph: every group of the project is drawn.
            page.goto(f"{base}/asset-groups")
            expect(page).to_have_title(re.compile("asset lineage", re.I))
            for group in ("ingest", "landmarks", "temporal"):
                expect(page.get_by_text(group, exact=True).first).to_be_visible()

            # Materialize one partition of media_inventory from the asset's page.
            page.goto(f"{base}/assets/media_inventory")
            dialog = _dialog_with_partition(page)
            launch = dialog.get_by_role("button", name="Launch 1 run")
            expect(launch).to_be_enabled()
            launch.click()
            expect(dialog).to_be_hidden()

            run = _wait_for_run(base, log_path)
            assert run["assetSelection"] == [{"path": ["media_inventory"]}]

            # The materialisation's markdown preview renders as a table naming every file.
            page.goto(f"{base}/assets/media_inventory")
            for relpath in ("stroke_data/obama.jpg", "noStroke_data/biden.jpg"):
                expect(page.get_by_role("cell", name=relpath, exact=True)).to_be_visible()
            expect(page.get_by_text("usable_media", exact=True).first).to_be_visible()
        finally:
            browser.close()
    print(f"browser test: UI drive and run took {time.monotonic() - started:.0f} s")
