"""The desk's indices page in headless Chromium: charts are drawn with data, fixings are listed."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.services.chain_data import import_epoch_history, store_block_frame
from hashedge.services.fixings import publish_fixings
from hashedge.web import create_app
from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def live_desk(tmp_path_factory, shared_data):
    from indices.sources.csv_import import read_epoch_history
    from indices.sources.simulator import simulate_demo_chain

    folder = tmp_path_factory.mktemp("desk")
    settings = load_settings({"HASHEDGE_DATABASE_URL": f"sqlite:///{folder / 'desk.sqlite'}",
                              "HASHEDGE_INSTANCE_DIR": str(folder)}, secret_key="browser-test")
    runtime = bootstrap(settings, clock=FixedClock(NOW))
    runtime.migrate()
    epochs_file = shared_data / "btc_difficulty_epochs.csv"
    import_epoch_history(runtime.uow(), epochs_file)
    chain = simulate_demo_chain(read_epoch_history(epochs_file), seed=5, end_time=int(NOW.timestamp()))
    store_block_frame(runtime.uow(), chain[chain["time"] >= int(NOW.timestamp()) - 200 * 86_400])
    publish_fixings(runtime.uow(), runtime.clock, confirmations=6)
    server = LiveServer(create_app(runtime))
    yield server
    server.stop()
    runtime.close()


CHART_STATE = """
(id) => {
  const canvas = document.getElementById(id);
  const chart = Chart.getChart(canvas);
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted++; }
  return { points: chart.data.datasets.map(d => d.data.length), painted, width: canvas.width };
}
"""


def test_the_indices_page_draws_its_charts_and_lists_fixings(browser, live_desk, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_desk.url}/desk/indices")
    page.wait_for_selector("body[data-charts-drawn='3']", timeout=15_000)

    difficulty = page.evaluate(CHART_STATE, "chart-difficulty")
    bme = page.evaluate(CHART_STATE, "chart-bme")
    hashprice = page.evaluate(CHART_STATE, "chart-hashprice")
    assert difficulty["points"][0] >= 100 and len(difficulty["points"]) == 4  # DIFF + forecast band
    assert bme["points"][0] >= 100 and bme["points"][1] >= 100
    assert hashprice["points"][0] >= 100
    for chart in (difficulty, bme, hashprice):
        assert chart["painted"] > 0.02 * chart["width"] * 200  # lines and axes, not a blank canvas

    rows = page.locator("#latest-fixings tbody tr")
    assert rows.count() == 12
    assert "not published" not in page.locator("#latest-fixings").inner_text()
    assert "Next retarget in" in page.locator("#forecast-summary").inner_text()
    assert errors == []
    page.screenshot(path=str(tmp_path / "desk-indices.png"), full_page=True)
    page.close()


def test_an_unknown_desk_page_is_an_html_404(browser, live_desk):
    page = browser.new_page()
    response = page.goto(f"{live_desk.url}/desk/nowhere")
    assert response.status == 404 and "404" in page.locator("h1").inner_text()
    page.close()
