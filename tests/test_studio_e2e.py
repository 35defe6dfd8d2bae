"""Browser tests of the studio: Playwright driving Debian's chromium (headless, offline).

Elements are found by elem_id; assertions retry (Playwright's `expect`); tests act as a user
does (pick from dropdowns, click, read the page). The Score, Compare, Leaderboard and Dataset
tests save docs/screenshots/<tab>.png for the README. Skipped with a reason when chromium or
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
def studio(demo_dataset, tmp_path_factory):
    with running_studio(demo_dataset, tmp_path_factory.mktemp("studio-e2e")) as (demo, url, _jobs):
        yield demo, url


@pytest.fixture(scope="module")
def app_url(studio):
    return studio[1]


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
    closes = page.locator(".toast-close")
    for _ in range(10):  # a toast can be re-rendered (detached, inert) while it is clicked: retry
        if closes.count() == 0:
            break
        try:
            closes.first.click(timeout=3000)
        except playwright_api.Error:
            continue
    expect(page.locator(".toast-body")).to_have_count(0)
    page.wait_for_function("() => !document.querySelector('.eta-bar, .progress-text')")  # no event running
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


def dropdown_options(page, elem_id: str) -> list[str]:
    """The options a Gradio dropdown offers, read by opening it as a user would."""
    page.locator(f"#{elem_id} input").click()
    options = page.locator("[data-testid=dropdown-option]")
    expect(options.first).to_be_visible()
    texts = [t.strip() for t in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return texts


def partial_scorer() -> str:
    """A registry scorer that needs no weights and cannot judge some dimension (alignment for the
    image-statistics scorers): its result must show n/a there."""
    from edithf.data.schema import DIMENSIONS
    from edithf.evaluators.registry import list_evaluators

    names = [i.name for i in list_evaluators()
             if not i.takes_argument and not i.needs_weights and set(i.dimensions) != set(DIMENSIONS)]
    assert names, "no registry scorer declares fewer dimensions than it returns"
    return "classic" if "classic" in names else names[0]


def test_score_upload_card_and_bad_input(page, app_url, demo_dataset, tmp_path):
    from edithf.data.dataset import load_dataset

    ds = load_dataset(demo_dataset)
    row = ds.edits.iloc[0]
    open_tab(page, app_url, "score")
    expect(page.locator("#studio-banner")).to_contain_text("No trained evaluator")  # runs folder empty
    page.locator("#score-source input[type=file]").set_input_files(str(ds.image_path(row["source"])))
    page.locator("#score-edited input[type=file]").set_input_files(str(ds.image_path(row["edited"])))
    page.locator("#score-run").click()  # no prompt yet
    error_toast(page, "prompt is empty")
    page.locator("#score-prompt textarea").fill(row["prompt"])
    scorer = partial_scorer()
    pick(page, "score-scorer", scorer)
    expect(page.locator("#score-card")).to_contain_text(f"Scorer card · {scorer}")
    page.locator("#score-run").click()
    # the first use of a scorer builds it (classic imports torch): allow for that on a busy machine
    expect(page.locator("#score-overall")).to_contain_text("overall", timeout=120_000)
    table = page.locator("#score-table")
    expect(table).to_contain_text("preservation")
    expect(table).to_contain_text("n/a (this scorer cannot judge it)")
    expect(page.locator("#score-card")).to_contain_text("reads the prompt")
    expect(page.locator("#score-card")).to_contain_text("not available")
    expect(page.locator("#score-plot .js-plotly-plot")).to_be_visible()
    shot(page, "score")
    text = tmp_path / "not-an-image.png"
    text.write_text("plain text")
    page.locator("#score-edited button[aria-label='Remove Image']").first.click()
    page.locator("#score-edited input[type=file]").set_input_files(str(text))
    error_toast(page, "cannot read not-an-image.png as an image")  # said at upload, before any click
    expect(page.locator("#score-run")).to_be_enabled()  # the app keeps working


def test_score_result_goes_when_the_scorer_changes(page, app_url, demo_dataset):
    """The numbers shown are those of the scorer named beside them: picking another scorer
    empties the result (its card changes at once) until Score is pressed again."""
    from edithf.data.dataset import load_dataset

    row = load_dataset(demo_dataset).edits.iloc[0]
    open_tab(page, app_url, "score")
    pick(page, "score-pick", row["group_id"])
    expect(page.locator("#score-prompt textarea")).not_to_have_value("")
    pick(page, "score-scorer", "dummy")
    page.locator("#score-run").click()
    table = page.locator("#score-table")
    expect(page.locator("#score-overall")).to_contain_text("scorer dummy")
    expect(table).to_contain_text("preservation")
    expect(table).not_to_contain_text("level")  # dummy gives no level words: no empty column
    other = partial_scorer()
    pick(page, "score-scorer", other)
    expect(page.locator("#score-card")).to_contain_text(f"Scorer card · {other}")
    expect(page.locator("#score-overall")).not_to_contain_text("overall")
    expect(table).not_to_contain_text("preservation")  # no dummy numbers beside the other card
    page.locator("#score-run").click()
    expect(page.locator("#score-overall")).to_contain_text(f"scorer {other}", timeout=120_000)


def test_scorer_dropdown_offers_evaluator_runs_not_dpo_runs(page, studio):
    demo, url = studio
    runs = demo.studio_context.settings.runs_dir
    for name, marker in (("evaluator-run", "edithf_config.json"), ("dpo-run", "adapter_config.json")):
        (runs / name / "best").mkdir(parents=True, exist_ok=True)
        (runs / name / "best" / marker).write_text('{"backbone": "tiny:qwen2_vl"}')
    open_tab(page, url, "score")
    options = dropdown_options(page, "score-scorer")
    assert any("evaluator-run" in o for o in options), options
    assert not any("dpo-run" in o for o in options), options
    expect(page.locator("#studio-banner")).not_to_contain_text("No trained evaluator")
    open_tab(page, url, "dataset")  # the run's card, before anything built it: its caveat is there
    pick(page, "dataset-scorer", "evaluator-run")
    expect(page.locator("#dataset-pred-note")).to_contain_text("caveat: tiny fixture backbone tiny:qwen2_vl")


def test_compare_ranks_a_demo_group(page, app_url, demo_dataset):
    from edithf.data.dataset import load_dataset

    group = load_dataset(demo_dataset).edits["group_id"].iloc[0]
    open_tab(page, app_url, "compare")
    pick(page, "compare-group", group)
    expect(page.locator("#compare-prompt textarea")).not_to_have_value("")
    page.locator("#compare-run").click()
    expect(page.locator("#compare-table")).to_contain_text("best of N")
    expect(page.locator("#compare-card")).to_contain_text("Scorer card")
    from edithf.evaluators.registry import get_info

    if not get_info("dummy").reads_prompt:  # the page says what the ranking rests on
        expect(page.locator("#compare-note")).to_contain_text("not read the prompt")
    expect(page.locator("#compare-gallery img")).to_have_count(8)  # every edit of the group
    shot(page, "compare")


def test_compare_ranking_goes_when_another_group_is_picked(page, app_url, demo_dataset):
    """The ranking, gallery and pairs shown belong to the group above them: picking another
    group empties them (no old edits under the new source) until Rank is pressed again."""
    from edithf.data.dataset import load_dataset

    groups = list(load_dataset(demo_dataset).edits["group_id"].unique()[:2])
    open_tab(page, app_url, "compare")
    pick(page, "compare-group", groups[0])
    expect(page.locator("#compare-edits")).to_contain_text(groups[0])  # the group's edits are in
    page.locator("#compare-run").click()
    expect(page.locator("#compare-table")).to_contain_text("best of N")
    expect(page.locator("#compare-gallery img")).to_have_count(8)
    pick(page, "compare-group", groups[1])
    expect(page.locator("#compare-edits")).to_contain_text(groups[1])
    expect(page.locator("#compare-table")).not_to_contain_text("best of N")
    expect(page.locator("#compare-gallery img")).to_have_count(0)
    expect(page.locator("#compare-pairs")).not_to_contain_text("faithful")  # headers only, no old pairs
    page.locator("#compare-run").click()
    expect(page.locator("#compare-gallery img").first).to_have_attribute("src", re.compile(groups[1]))


def test_compare_reports_a_non_image_upload_at_once(page, app_url, tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    open_tab(page, app_url, "compare")
    page.locator("#compare-edits input[type=file]").set_input_files(str(notes))
    error_toast(page, "cannot read notes.png as an image")


def test_leaderboard_deep_link_table_and_chart(page, app_url):
    open_tab(page, app_url, "leaderboard")
    expect(page.locator("#leaderboard-human")).to_contain_text("elo_high")
    expect(page.locator("#leaderboard-human")).to_contain_text("unit: Elo points")
    expect(page.locator("#leaderboard-bt-plot .js-plotly-plot")).to_be_visible()
    expect(page.locator("#leaderboard-srcc")).to_contain_text("Press Update")  # nothing scored on page load
    expect(page.locator("#leaderboard-evaluator")).to_be_hidden()  # no empty table with placeholder headers
    page.locator("#leaderboard-update").click()
    expect(page.locator("#leaderboard-srcc")).to_contain_text("SRCC")
    expect(page.locator("#leaderboard-evaluator")).to_contain_text("elo")
    expect(page.locator("#leaderboard-winrate .js-plotly-plot")).to_be_visible()
    shot(page, "leaderboard")


def test_leaderboard_one_model_filter_shows_that_model(page, app_url, demo_dataset):
    from edithf.data.dataset import load_dataset

    models = sorted(load_dataset(demo_dataset).edits["model"].unique())
    open_tab(page, app_url, "leaderboard")
    human = page.locator("#leaderboard-human")
    expect(human).to_contain_text(models[1])
    pick(page, "leaderboard-models", models[0])
    expect(human.locator("tbody tr")).to_have_count(1)
    expect(human).to_contain_text(models[0])
    expect(page.locator("#leaderboard-note")).to_contain_text("model filter picks the rows")
    expect(page.locator(".toast-body")).to_have_count(0)  # one model is a valid view, not an error


def test_dataset_browse_switch_scorer_and_invalid_folder(page, app_url, demo_dataset):
    open_tab(page, app_url, "dataset")
    expect(page.locator("#dataset-gallery img").first).to_be_visible()
    expect(page.locator("#dataset-gallery img")).to_have_count(8)
    expect(page.locator("#dataset-summary")).to_contain_text("edits")
    pick(page, "dataset-scorer", "dummy")
    page.locator("#dataset-predict").click()
    table = page.locator("#dataset-table")
    expect(table).to_contain_text("pred_overall (dummy)")
    expect(page.locator("#dataset-gallery img")).to_have_count(8)  # the view re-rendered after the scoring
    expect(page.locator("#dataset-source img")).to_be_visible()
    shot(page, "dataset")
    other = partial_scorer()
    pick(page, "dataset-scorer", other)  # the table follows the scorer at once
    expect(table).not_to_contain_text("pred_overall (dummy)")
    expect(page.locator("#dataset-pred-note")).to_contain_text(f"no predictions of {other}")
    pick(page, "dataset-scorer", "dummy")
    expect(table).to_contain_text("pred_overall (dummy)")
    page.locator("#dataset-path textarea").fill("/etc")
    page.locator("#dataset-load").click()
    error_toast(page, "outside the folders this studio opens datasets from")
    expect(page.locator(".toast-body").first).not_to_contain_text("passwd")

