"""The desk's indices page in headless Chromium: charts drawn with data inside their frames, fixings
listed, no script or policy error."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

CHART_STATE = """
(id) => {
  const canvas = document.getElementById(id);
  const chart = Chart.getChart(canvas);
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted++; }
  const box = canvas.getBoundingClientRect();
  const frame = canvas.parentElement.getBoundingClientRect();
  const ticks = chart.scales.y.ticks.map(t => t.label);
  return { points: chart.data.datasets.map(d => d.data.length), painted, width: canvas.width,
           height: box.height, frameHeight: frame.height, ticks };
}
"""


def test_the_indices_page_draws_its_charts_in_their_frames_and_lists_fixings(desk_page, live_desk):
    page = desk_page("viewer")
    page.goto(f"{live_desk.url}/desk/indices")
    page.wait_for_selector("body[data-charts-drawn='3']")

    difficulty = page.evaluate(CHART_STATE, "chart-difficulty")
    bme = page.evaluate(CHART_STATE, "chart-bme")
    hashprice = page.evaluate(CHART_STATE, "chart-hashprice")
    assert difficulty["points"][0] >= 100 and len(difficulty["points"]) == 4  # DIFF + forecast band
    assert bme["points"][0] >= 100 and bme["points"][1] >= 100
    assert hashprice["points"][0] >= 100
    for chart in (difficulty, bme, hashprice):
        assert chart["painted"] > 0.02 * chart["width"] * 200  # lines and axes, not a blank canvas
        assert chart["height"] == chart["frameHeight"] == 260  # sized to its frame, not 900 px tall
        assert not any("E" in tick or "e-" in tick for tick in chart["ticks"]), chart["ticks"]
    assert any(tick.endswith("K") for tick in bme["ticks"])  # BME in sats/PH/day: tens of thousands

    rows = page.locator("#latest-fixings tbody tr")
    assert rows.count() == 12
    assert "not published" not in page.locator("#latest-fixings").inner_text()
    assert "Next retarget in" in page.locator("#forecast-summary").inner_text()
    screenshot(page, "indices")
    assert page.problems == []


def test_an_unknown_desk_page_is_an_html_404(desk_page, live_desk):
    page = desk_page("viewer")
    response = page.goto(f"{live_desk.url}/desk/nowhere")
    assert response.status == 404 and "404" in page.locator("h1").inner_text()
