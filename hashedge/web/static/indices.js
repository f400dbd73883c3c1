// Draws the desk's index charts from the JSON the page embeds; marks the page ready when done.
// Each canvas sits in a fixed-height .chart-box, so Chart.js sizes the chart to its frame.
(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const toPoints = (series) => (series || []).map((p) => ({ x: p.t, y: p.v }));
  const dateTicks = { callback: (value) => new Date(value).toISOString().slice(0, 10), maxTicksLimit: 6 };
  const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
  const valueTicks = { callback: (value) => compact.format(value), maxTicksLimit: 6 };
  const timeAxis = { type: "linear", ticks: dateTicks, grid: { display: false } };

  function lineChart(canvasId, datasets, yTitle) {
    return new Chart(document.getElementById(canvasId), {
      type: "line",
      data: { datasets },
      options: {
        animation: false, parsing: true, normalized: true, responsive: true, maintainAspectRatio: false,
        elements: { point: { radius: 0 } },
        scales: { x: timeAxis, y: { title: { display: true, text: yTitle }, ticks: valueTicks } },
        plugins: { legend: { display: datasets.length > 1, labels: { boxWidth: 12 } } },
      },
    });
  }

  const difficulty = [{ label: "DIFF", data: toPoints(data.series.DIFF), borderColor: "#14213d", borderWidth: 1.5 }];
  const f = data.forecast;
  if (f) {
    const last = difficulty[0].data[difficulty[0].data.length - 1];
    const start = last ? [last] : [];
    difficulty.push(
      { label: "forecast 95% high", data: start.concat([{ x: f.t, y: f.high95 }]), borderColor: "#fca31199", borderDash: [4, 4], fill: "+1", backgroundColor: "#fca31133" },
      { label: "forecast 95% low", data: start.concat([{ x: f.t, y: f.low95 }]), borderColor: "#fca31199", borderDash: [4, 4] },
      { label: "forecast", data: start.concat([{ x: f.t, y: f.next }]), borderColor: "#e85d04", pointRadius: 3 },
    );
  }
  const charts = [
    lineChart("chart-difficulty", difficulty, "difficulty"),
    lineChart("chart-bme", [
      { label: "BME14", data: toPoints(data.series.BME14), borderColor: "#2a9d8f", borderWidth: 1.5 },
      { label: "BME84", data: toPoints(data.series.BME84), borderColor: "#264653", borderWidth: 1.5 },
    ], "sats/PH/day"),
    lineChart("chart-hashprice", [
      { label: "HASHPRICE", data: toPoints(data.series.HASHPRICE), borderColor: "#e76f51", borderWidth: 1.5 },
    ], "sats/PH/day"),
  ];
  document.body.dataset.chartsDrawn = String(charts.length);
})();
