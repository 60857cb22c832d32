// One chart per <figure class="chart">: a uPlot plot, a note, and a CSV download of its numbers.
//
// Each figure says what it shows in data attributes, for people's tools and the browser tests:
// data-state (loading, ready, empty, error) and data-points (values drawn, set when uPlot draws).

import uPlot from "../uplot/uPlot.esm.js";

export const COLOURS = {
  blue: "#1f6fb2",
  orange: "#d9822b",
  green: "#2e8540",
  grey: "#6b7280",
  red: "#c62828",
  purple: "#7b3fa0",
  band: "rgba(31, 111, 178, 0.12)",
};

const plots = new Map(); // figure id -> uPlot, destroyed before the figure is drawn again

export function csvText(columns, rows) {
  const cell = (value) => {
    if (value === null || value === undefined) return "";
    const text = String(value);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [columns, ...rows].map((row) => row.map(cell).join(",")).join("\r\n") + "\r\n";
}

function offerCsv(figure, filename, columns, rows) {
  const button = figure.querySelector("button.csv");
  button.disabled = rows.length === 0;
  button.dataset.rows = String(rows.length);
  button.onclick = () => {
    const blob = new Blob([csvText(columns, rows)], { type: "text/csv;charset=utf-8" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = filename;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 0);
  };
}

function reset(figure) {
  plots.get(figure.id)?.destroy();
  plots.delete(figure.id);
  figure.querySelector(".plot").replaceChildren();
  figure.querySelector(".note").textContent = "";
  figure.dataset.points = "0";
}

export function loading(figure) {
  reset(figure);
  figure.dataset.state = "loading";
  figure.querySelector(".note").textContent = "Loading…";
  offerCsv(figure, "", [], []);
}

export function showEmpty(figure, message) {
  reset(figure);
  figure.dataset.state = "empty";
  figure.querySelector(".note").textContent = message;
}

export function showError(figure, error) {
  reset(figure);
  figure.dataset.state = "error";
  const note = figure.querySelector(".note");
  note.textContent = `Could not draw this chart: ${error.message}`;
  note.classList.add("error");
}

function drawnPoints(u) {
  let count = 0;
  for (let s = 1; s < u.series.length; s++) {
    if (!u.series[s].show) continue;
    for (const value of u.data[s]) if (value !== null && value !== undefined) count++;
  }
  return count;
}

/**
 * Draw a chart in `figure`.
 *   data: uPlot columns [xs, ys1, ys2, …] (null: no value);
 *   series: uPlot series options for ys1…; axes: {x, y} labels; time: x in seconds since epoch;
 *   xValues, xSplits, xRange: optional uPlot axis labels, tick positions and x range;
 *   csv: {filename, columns, rows} — the numbers behind the chart, as people want them in Excel.
 */
export function drawChart(
  figure,
  { data, series, axes, time = false, xValues, xSplits, xRange, csv, note = "" },
) {
  reset(figure);
  const container = figure.querySelector(".plot");
  const width = Math.max(320, container.clientWidth || 560);
  const options = {
    width,
    height: 300,
    scales: { x: { time, ...(xRange ? { range: xRange } : {}) } },
    legend: { live: false },
    axes: [
      {
        label: axes.x,
        ...(xValues ? { values: xValues } : {}),
        ...(xSplits ? { splits: xSplits } : {}),
      },
      { label: axes.y, size: 70 },
    ],
    series: [{ label: axes.x }, ...series],
    hooks: {
      draw: [
        (u) => {
          figure.dataset.points = String(drawnPoints(u));
        },
      ],
    },
  };
  plots.set(figure.id, new uPlot(options, data, container));
  figure.dataset.state = "ready";
  figure.querySelector(".note").textContent = note;
  offerCsv(figure, csv.filename, csv.columns, csv.rows);
}

export const line = (label, stroke, extra = {}) => ({ label, stroke, width: 2, ...extra });

export const dots = (label, stroke) => ({
  label,
  stroke,
  paths: () => null,
  points: { show: true, size: 5, fill: stroke, stroke, width: 0 },
});

export const bars = (label, fill, align) => ({
  label,
  stroke: fill,
  fill,
  width: 0,
  paths: uPlot.paths.bars({ size: [0.3, 40], align }),
  points: { show: false },
});

export function joinSeries(tables) {
  return uPlot.join(tables);
}
