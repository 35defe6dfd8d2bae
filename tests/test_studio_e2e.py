"""Browser tests of the studio: Playwright driving Debian's chromium (headless, offline).

Elements are found by elem_id; assertions retry (Playwright's `expect`). Each test saves a
screenshot to docs/screenshots/<tab>.png for the README. Skipped with a reason when chromium or
Playwright is missing (CI installs both: `apt-get install -y chromium`).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conftest import running_studio

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install -y chromium); browser tests skipped",
                allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = playwright_api.expect

SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def app_url(demo_dataset, tmp_path_factory):
    with running_studio(demo_dataset, tmp_path_factory.mktemp("studio-e2e")) as (_, url, _jobs):
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-quic", "--disable-sync"],
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    yield page
    page.close()


def open_tab(page, url: str, tab: str):
    page.goto(f"{url}/?tab={tab}")
    expect(page.locator(f"#tab-{tab}")).to_be_visible()


def shot(page, name: str):
    """Save docs/screenshots/<name>.png, without the messages of earlier steps."""
    for close in page.locator(".toast-close").all():
        close.click()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def pick(page, elem_id: str, text: str):
    """Choose the option of a Gradio dropdown whose label contains `text`."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill(text)
    page.locator("[data-testid=dropdown-option]", has_text=text).first.click()


def error_toast(page, pattern: str):
    expect(page.locator(".toast-body").filter(has_text=re.compile(pattern)).first).to_be_visible()


def test_score_upload_and_bad_input(page, app_url, demo_dataset, tmp_path):
    from edithf.data.dataset import load_dataset

    ds = load_dataset(demo_dataset)
    row = ds.edits.iloc[0]
    open_tab(page, app_url, "score")
    page.locator("#score-source input[type=file]").set_input_files(str(ds.image_path(row["source"])))
    page.locator("#score-edited input[type=file]").set_input_files(str(ds.image_path(row["edited"])))
    page.locator("#score-run").click()  # no prompt yet
    error_toast(page, "prompt is empty")
    page.locator("#score-prompt textarea").fill(row["prompt"])
    page.locator("#score-run").click()
    expect(page.locator("#score-overall")).to_contain_text("overall")
    expect(page.locator("#score-table")).to_contain_text("preservation")
    expect(page.locator("#score-plot .js-plotly-plot")).to_be_visible()
    shot(page, "score")
    text = tmp_path / "not-an-image.png"
    text.write_text("plain text")
    page.locator("#score-edited button[aria-label='Remove Image']").first.click()
    page.locator("#score-edited input[type=file]").set_input_files(str(text))
    page.locator("#score-run").click()
    error_toast(page, "cannot read not-an-image.png as an image")
    expect(page.locator("#score-run")).to_be_enabled()  # the app keeps working


def test_compare_ranks_a_demo_group(page, app_url, demo_dataset):
    from edithf.data.dataset import load_dataset

    group = load_dataset(demo_dataset).edits["group_id"].iloc[0]
    open_tab(page, app_url, "compare")
    pick(page, "compare-group", group)
    expect(page.locator("#compare-prompt textarea")).not_to_have_value("")
    page.locator("#compare-run").click()
    expect(page.locator("#compare-table")).to_contain_text("best of N")
    expect(page.locator("#compare-gallery img").first).to_be_visible()
    shot(page, "compare")


def test_leaderboard_deep_link_table_and_chart(page, app_url):
    open_tab(page, app_url, "leaderboard")
    expect(page.locator("#leaderboard-human")).to_contain_text("elo")
    expect(page.locator("#leaderboard-bt-plot .js-plotly-plot")).to_be_visible()
    expect(page.locator("#leaderboard-srcc")).to_contain_text("Press Update")  # nothing scored on page load
    page.locator("#leaderboard-update").click()
    expect(page.locator("#leaderboard-srcc")).to_contain_text("SRCC")
    expect(page.locator("#leaderboard-winrate .js-plotly-plot")).to_be_visible()
    shot(page, "leaderboard")


def test_dataset_browse_and_invalid_folder(page, app_url, tmp_path):
    open_tab(page, app_url, "dataset")
    expect(page.locator("#dataset-gallery img").first).to_be_visible()
    expect(page.locator("#dataset-summary")).to_contain_text("edits")
    shot(page, "dataset")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "edits.csv").write_text("edit_id,group_id\n1,2\n")
    page.locator("#dataset-path textarea").fill(str(bad))
    page.locator("#dataset-load").click()
    error_toast(page, "cannot load")


def test_training_job_from_the_ui(page, app_url, tmp_path):
    open_tab(page, app_url, "train")
    page.locator("#field-output_dir textarea").fill(str(tmp_path / "run"))
    page.locator("#train-preview").click()
    expect(page.locator("#train-yaml")).to_contain_text("output_dir")
    page.locator("#train-launch").click()
    expect(page.locator("#train-message")).to_contain_text("started")
    expect(page.locator("#train-logs textarea")).to_have_value(re.compile("step \\d+ loss"))
    page.locator("#field-output_dir textarea").fill(str(tmp_path / "run2"))
    page.locator("#train-launch").click()
    expect(page.locator("#train-message")).to_contain_text("queued")
    expect(page.locator("#train-progress")).to_contain_text("queue")
    shot(page, "train")
    page.locator("#train-stop").click()  # the followed job: the queued one, dropped
    expect(page.locator("#train-progress")).to_contain_text("stopped")
    pick(page, "train-job", "run (")
    expect(page.locator("#train-progress")).to_contain_text("job #1 · running")
    page.locator("#train-stop").click()
    expect(page.locator("#train-progress")).to_contain_text("stopped")


def test_dpo_tab(page, app_url):
    open_tab(page, app_url, "dpo")
    page.locator("#dpo-preview").click()
    expect(page.locator("#dpo-yaml")).to_contain_text("pipeline")
    expect(page.locator("#dpo-progress")).to_contain_text(re.compile("no job yet|job #"))  # the poll ran
    shot(page, "dpo")
