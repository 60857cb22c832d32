// The page at /: pick a model and a date, see its charts; the fleet below.
// Every number comes from the public API (/models, /observations, /quote, /residual,
// /valuations), so what the page shows is what a client gets.

import { allItems, apiKey, getJSON, HttpError, setApiKey, settleAll } from "./api.js";
import {
  bars,
  COLOURS,
  dots,
  drawChart,
  joinSeries,
  line,
  loading,
  showEmpty,
  showError,
} from "./charts.js";

const DEFAULT_MODEL = "nvidia-h100-sxm5-80gb";
const HISTORY_POINTS = 14; // quotes in the history chart: each is a calibration on its date,
// which a server warms at start-up (HISTORY_POINTS and history_warm_dates in service/ui.py)
const CONCURRENT_QUOTES = 3;
const TERMS = [
  ["on_demand", 0],
  ["1m", 1],
  ["3m", 3],
  ["6m", 6],
  ["1y", 12],
  ["2y", 24],
  ["3y", 36],
];
const PREMISES = [
  ["market", COLOURS.blue],
  ["orderly", COLOURS.orange],
  ["forced", COLOURS.red],
];

const $ = (selector) => document.querySelector(selector);
const figure = (id) => document.getElementById(id);
const round = (value, digits) => (value === null ? null : Number(value.toFixed(digits)));
const seconds = (isoDate) => Date.parse(`${isoDate}T00:00:00Z`) / 1000;
const isoDay = (date) => date.toISOString().slice(0, 10);
const money = (value) =>
  value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function status(message, isError = false) {
  const line = $("#status");
  line.textContent = message;
  line.classList.toggle("error", isError);
}

function describe(error) {
  if (error instanceof HttpError && error.status === 401) {
    return new Error("this server needs an API key for reads: enter one above.");
  }
  return error;
}

// --- controls --------------------------------------------------------------------------------

async function fillModels(select, wanted) {
  const models = await allItems("models");
  select.replaceChildren(
    ...models.map((m) => new Option(`${m.vendor} ${m.family} ${m.variant}`, m.slug)),
  );
  const slugs = models.map((m) => m.slug);
  select.value = slugs.includes(wanted) ? wanted : slugs.includes(DEFAULT_MODEL) ? DEFAULT_MODEL : slugs[0];
  return new Map(models.map((m) => [m.slug, m]));
}

function showFacts(model) {
  const features = [model.fp8 ? "FP8" : "no FP8", model.fp4 ? "FP4" : "no FP4"].join(", ");
  const price = model.launch_price_usd ? `, launch price $${money(model.launch_price_usd)}` : "";
  $("#model-facts").textContent =
    `${model.vendor} ${model.architecture} · released ${model.release_date} · ` +
    `${model.memory_gb} GB · ${features}${price}`;
}

// --- charts ----------------------------------------------------------------------------------

/** Quote dates: quarter starts from the first observation to the valuation date, thinned. */
function historyDates(firstObserved, asOf) {
  const dates = [];
  const start = new Date(`${firstObserved}T00:00:00Z`);
  let month = Math.floor(start.getUTCMonth() / 3) * 3 + 3; // the next quarter start
  let cursor = new Date(Date.UTC(start.getUTCFullYear(), month, 1));
  while (isoDay(cursor) < asOf) {
    dates.push(isoDay(cursor));
    month += 3;
    cursor = new Date(Date.UTC(start.getUTCFullYear(), month, 1));
  }
  const step = Math.ceil(dates.length / (HISTORY_POINTS - 1)) || 1;
  const kept = dates.filter((_, i) => (dates.length - 1 - i) % step === 0);
  return [...kept.slice(-(HISTORY_POINTS - 1)), asOf];
}

async function drawHistory(fig, slug, asOf) {
  const observations = (
    await allItems("observations", {
      model: slug,
      kind: "lease",
      term: "on_demand",
      currency: "USD",
      to: asOf,
    })
  ).filter((o) => o.unit !== "gpu");
  const first = observations.length ? observations[0].observed_on : asOf.slice(0, 4) + "-01-01";
  // Most recent first: on a server that has just started, those are the calibrations it has
  // (it warms the valuation date, then these dates going back); the chart is drawn with the
  // observations at once and again as each quote comes in.
  const dates = historyDates(first, asOf).reverse();
  const settled = new Array(dates.length);
  const drawSoFar = () => plotHistory(fig, slug, observations, settled.filter(Boolean), dates.length);
  if (observations.length) drawSoFar();
  await settleAll(
    dates.map((day) => () => getJSON("quote", { model: slug, as_of: day, term: "on_demand" })),
    CONCURRENT_QUOTES,
    (index, result) => {
      settled[index] = result;
      if (result.status === "fulfilled" || observations.length) drawSoFar();
    },
  );
  plotHistory(fig, slug, observations, settled, dates.length);
}

function plotHistory(fig, slug, observations, settled, expected) {
  const quotes = settled
    .filter((r) => r.status === "fulfilled")
    .map((r) => r.value)
    .sort((a, b) => (a.as_of < b.as_of ? -1 : a.as_of > b.as_of ? 1 : 0));
  const refused = settled.filter((r) => r.status === "rejected");
  const pending = expected - settled.length;
  if (!quotes.length && !observations.length) {
    const reason = refused.length ? describe(refused[0].reason).message : "no data";
    return showEmpty(fig, `No quotes or observations for this model: ${reason}`);
  }
  const quoteTable = [
    quotes.map((q) => seconds(q.as_of)),
    quotes.map((q) => q.rate_per_gpu_hour),
    quotes.map((q) => q.low),
    quotes.map((q) => q.high),
  ];
  const obsTable = [observations.map((o) => seconds(o.observed_on)), observations.map((o) => o.price)];
  // Several observations can share a date: uPlot needs one x per value, so nudge them apart.
  for (let i = 1; i < obsTable[0].length; i++) {
    if (obsTable[0][i] <= obsTable[0][i - 1]) obsTable[0][i] = obsTable[0][i - 1] + 1;
  }
  // Observations first, so that the quote line is drawn over the dots.
  const data = joinSeries([obsTable, quoteTable]);
  const rows = [
    ...quotes.map((q) => [
      q.as_of, "quote", round(q.rate_per_gpu_hour, 4), round(q.low, 4), round(q.high, 4),
      q.observations_used, q.projection ? "yes" : "no", "",
    ]),
    ...observations.map((o) => [o.observed_on, "observation", o.price, "", "", "", "", o.provider]),
  ].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const skipped = refused.length ? ` ${refused.length} date(s) without a quote were left out.` : "";
  const waiting = pending > 0 ? ` Loading ${pending} more quote(s)…` : "";
  drawChart(fig, {
    data,
    time: true,
    axes: { x: "Date", y: "USD per GPU-hour" },
    series: [
      dots("Observed price", COLOURS.orange),
      line("Fair rate (on demand)", COLOURS.blue, { width: 3, points: { show: true, size: 7 } }),
      line("Low", COLOURS.grey, { dash: [4, 4], width: 1 }),
      line("High", COLOURS.grey, { dash: [4, 4], width: 1 }),
    ],
    note:
      `${quotes.length} quotes, ${observations.length} observations (USD, on demand).` +
      `${skipped}${waiting}`,
    csv: {
      filename: `quote-history-${slug}.csv`,
      columns: ["date", "kind", "usd_per_gpu_hour", "low", "high", "observations_used",
        "projection", "provider"],
      rows,
    },
  });
}

async function residualCurve(slug, asOf, extra) {
  return getJSON("residual", { model: slug, as_of: asOf, include: "curve", ...extra });
}

function curveChart(fig, answers, labels, colours, filename) {
  const ages = answers[0].curve.map((p) => p.age_months);
  const columns = answers.map((a) => a.curve.map((p) => p.value_per_gpu));
  drawChart(fig, {
    data: [ages, ...columns],
    axes: { x: "Age (months)", y: "USD per GPU" },
    series: labels.map((label, i) => line(label, colours[i])),
    csv: {
      filename,
      columns: ["age_months", ...labels.map((l) => `usd_per_gpu_${l.replaceAll(" ", "_")}`)],
      rows: ages.map((age, i) => [age, ...columns.map((c) => round(c[i], 2))]),
    },
  });
}

async function drawPremises(fig, slug, asOf) {
  const answers = await Promise.all(
    PREMISES.map(([premise]) => residualCurve(slug, asOf, { premise })),
  );
  curveChart(fig, answers, PREMISES.map(([p]) => p), PREMISES.map(([, c]) => c),
    `residual-premises-${slug}.csv`);
}

async function drawFp8(fig, slug, asOf, model) {
  const answers = await Promise.all([true, false].map((fp8) => residualCurve(slug, asOf, { fp8 })));
  curveChart(fig, answers, ["with FP8", "without FP8"], [COLOURS.green, COLOURS.purple],
    `fp8-what-if-${slug}.csv`);
  fig.querySelector(".note").textContent =
    `This model ${model.fp8 ? "supports" : "does not support"} FP8; the other line is the what-if.`;
}

async function drawTerms(fig, slug, asOf) {
  const answers = await Promise.all(
    TERMS.map(([term]) => getJSON("quote", { model: slug, as_of: asOf, term })),
  );
  const months = TERMS.map(([, m]) => m);
  drawChart(fig, {
    data: [
      months,
      answers.map((q) => q.rate_per_gpu_hour),
      answers.map((q) => q.low),
      answers.map((q) => q.high),
    ],
    axes: { x: "Term (months)", y: "USD per GPU-hour" },
    series: [
      line("Fair rate", COLOURS.blue, { points: { show: true, size: 7 } }),
      line("Low", COLOURS.grey, { dash: [4, 4], width: 1 }),
      line("High", COLOURS.grey, { dash: [4, 4], width: 1 }),
    ],
    csv: {
      filename: `term-structure-${slug}.csv`,
      columns: ["term", "months", "usd_per_gpu_hour", "low", "high", "usd_per_gpu_month"],
      rows: answers.map((q, i) => [
        q.term, months[i], round(q.rate_per_gpu_hour, 4), round(q.low, 4), round(q.high, 4),
        round(q.rate_per_gpu_month, 2),
      ]),
    },
  });
}

async function drawFleet(fig, asOf) {
  const table = fig.querySelector("table.assets");
  table.hidden = true;
  const page = await getJSON("valuations", { as_of: asOf, currency: "USD", limit: 1000 });
  const assets = page.items;
  if (!assets.length) {
    return showEmpty(
      fig,
      "No assets in the register yet. Add them with POST /assets or import a CSV with " +
        "POST /assets/import (see Swagger UI); they appear here, valued on the date above.",
    );
  }
  const index = assets.map((_, i) => i);
  const more = page.next_cursor ? ` Showing the first ${assets.length} of ${page.total}.` : "";
  const impaired = page.totals?.impaired ?? assets.filter((a) => a.impaired).length;
  drawChart(fig, {
    data: [
      index,
      assets.map((a) => a.book_value),
      assets.map((a) => (a.impaired ? null : a.fair_value)),
      assets.map((a) => (a.impaired ? a.fair_value : null)),
    ],
    axes: { x: "Asset", y: "USD" },
    xRange: [-0.5, assets.length - 0.5],
    xSplits: () => index,
    xValues: (u, ticks) => ticks.map((t) => assets[t]?.tag ?? ""),
    series: [
      bars("Book value", COLOURS.grey, -1),
      bars("Fair value", COLOURS.blue, 1),
      bars("Fair value, impaired", COLOURS.red, 1),
    ],
    note: `${page.total} asset(s), ${impaired} impaired, valued on ${page.as_of}.${more}`,
    csv: {
      filename: `fleet-${page.as_of}.csv`,
      columns: ["asset_id", "tag", "model", "status", "gpu_count", "age_months", "currency",
        "book_value", "fair_value", "difference", "impaired"],
      rows: assets.map((a) => [
        a.asset_id, a.tag, a.model, a.status, a.gpu_count, round(a.age_months, 2), a.currency,
        a.book_value, a.fair_value, a.difference, a.impaired,
      ]),
    },
  });
  const body = table.querySelector("tbody");
  body.replaceChildren(
    ...assets.map((a) => {
      const row = document.createElement("tr");
      row.classList.toggle("impaired", a.impaired);
      const cells = [a.tag, a.model, a.status, a.age_months.toFixed(1), money(a.book_value),
        money(a.fair_value), money(a.difference), a.impaired ? "yes" : "no"];
      row.replaceChildren(...cells.map((text) => Object.assign(document.createElement("td"), { textContent: text })));
      return row;
    }),
  );
  table.hidden = false;
}

// --- wiring ----------------------------------------------------------------------------------

async function guarded(fig, draw) {
  loading(fig);
  try {
    await draw();
  } catch (error) {
    showError(fig, describe(error));
  }
}

/** Call `done` once no figure is loading any more. */
function whenAllDrawn(figures, done) {
  const drawn = () => figures.every((f) => f.dataset.state !== "loading");
  if (drawn()) return done();
  const observer = new MutationObserver(() => {
    if (drawn()) {
      observer.disconnect();
      done();
    }
  });
  for (const f of figures) observer.observe(f, { attributes: true, attributeFilter: ["data-state"] });
}

async function render(models) {
  const started = performance.now();
  const slug = $("#model").value;
  const asOf = $("#as-of").value;
  const model = models.get(slug);
  history.replaceState(null, "", `?model=${encodeURIComponent(slug)}&as_of=${asOf}`);
  showFacts(model);
  status(`Valuing ${slug} on ${asOf}…`);
  document.documentElement.dataset.charts = "loading";
  const drawing = [
    guarded(figure("terms"), () => drawTerms(figure("terms"), slug, asOf)),
    guarded(figure("premises"), () => drawPremises(figure("premises"), slug, asOf)),
    guarded(figure("fp8"), () => drawFp8(figure("fp8"), slug, asOf, model)),
    guarded(figure("fleet"), () => drawFleet(figure("fleet"), asOf)),
    guarded(figure("history"), () => drawHistory(figure("history"), slug, asOf)),
  ];
  whenAllDrawn([...document.querySelectorAll("figure")], () => {
    // Since navigation start, the first time: every chart shows something (the history may
    // still be filling in its quotes).
    document.documentElement.dataset.drawnMs ??= String(Math.round(performance.now()));
  });
  await Promise.all(drawing);
  const elapsed = performance.now() - started;
  document.documentElement.dataset.charts = "done";
  document.documentElement.dataset.chartsMs = String(Math.round(elapsed));
  // Since navigation start: the page's load time as a person sees it, the first time.
  document.documentElement.dataset.loadedMs ??= String(Math.round(performance.now()));
  status("");
  $("#timing").textContent = `Charts drawn in ${(elapsed / 1000).toFixed(1)} s.`;
}

let models = null; // slug -> model, once loaded

async function start() {
  try {
    models = models || (await fillModels($("#model"), new URLSearchParams(location.search).get("model")));
  } catch (error) {
    status(`Could not load the models: ${describe(error).message}`, true);
    document.documentElement.dataset.charts = "error";
    return;
  }
  await render(models);
}

$("#as-of").value = new URLSearchParams(location.search).get("as_of") || isoDay(new Date());
$("#api-key").value = apiKey();
$("#controls").addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey($("#api-key").value.trim());
  start();
});
$("#model").addEventListener("change", start);
start();
