// Glider status page: reads GET /status and GET /buckets/{bucket}/stats with the viewer's read
// token and renders them. Only DOM APIs and textContent are used (never innerHTML), so API text
// cannot inject markup. Every figure is rendered twice: the raw API number in data-value, and
// human text for people. <body data-state> is loading | auth | ready | error.
"use strict";

const TOKEN_KEY = "glider.status.token";
const SVG_NS = "http://www.w3.org/2000/svg";
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const MODES = ["quick", "sampled", "detailed"];

// ---- formatting (tests mirror these rules: keep them simple and locale-free) ----

function formatBytes(n) {
  const sign = n < 0 ? "-" : "";
  let value = Math.abs(n);
  if (value < 1024) return `${sign}${value} B`;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${sign}${value.toFixed(2)} ${UNITS[unit]}`;
}

function formatCount(n) {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function formatPercent(part, whole) {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : "–";
}

function formatAge(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function formatTime(iso) {
  return new Date(iso).toISOString().replace("T", " ").slice(0, 19);
}

// ---- DOM helpers ----

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// A table cell holding one API figure: raw value in data-value, human text as content.
function cell(field, value, text, extra = {}) {
  return el("td", { "data-field": field, "data-value": value, ...extra }, text);
}

function setState(state) {
  document.body.dataset.state = state;
}

// ---- API ----

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

// A kiosk link may carry the token in the fragment (#token=...), which browsers never send to
// the server: move it into sessionStorage and drop it from the address bar at once.
function adoptFragmentToken() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const value = params.get("token");
  if (value) {
    sessionStorage.setItem(TOKEN_KEY, value);
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
}

async function api(path) {
  const headers = { Accept: "application/json" };
  const bearer = token();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const response = await fetch(path, { headers, cache: "no-store", credentials: "omit" });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, body };
}

function problemText(answer) {
  const body = answer.body;
  if (body && typeof body.title === "string") {
    return body.detail ? `${body.title}: ${body.detail}` : body.title;
  }
  return `HTTP ${answer.status}`;
}

// ---- rendering ----

function renderBuckets(results) {
  const tbody = $("buckets").tBodies[0];
  tbody.replaceChildren();
  for (const { bucket, answer } of results) {
    const row = el("tr", { "data-bucket": bucket });
    row.append(el("th", { scope: "row" }, bucket));
    if (answer.status !== 200) {
      row.dataset.error = String(answer.status);
      row.append(el("td", { colspan: 8, class: "error", "data-field": "error" }, problemText(answer)));
      tbody.append(row);
      continue;
    }
    const s = answer.body;
    row.append(
      cell("object_count", s.object_count, formatCount(s.object_count), { class: "num" }),
      cell("total_size", s.total_size, formatBytes(s.total_size), { class: "num", title: `${s.total_size} bytes` }),
      cell("compressed_size", s.compressed_size, formatBytes(s.compressed_size), {
        class: "num",
        title: `${s.compressed_size} bytes`,
      }),
      cell("space_saved", s.space_saved, formatBytes(s.space_saved), { class: "num", title: `${s.space_saved} bytes` }),
      cell("savings", s.space_saved, formatPercent(s.space_saved, s.total_size), { class: "num" }),
      cell("delta_objects", s.delta_objects, formatCount(s.delta_objects), { class: "num" }),
      cell("direct_objects", s.direct_objects, formatCount(s.direct_objects), { class: "num" }),
      cell("exact", s.exact, `${s.mode}, ${s.exact ? "exact" : "estimated"}`),
    );
    tbody.append(row);
  }
}

function renderCache(results) {
  const tbody = $("cache").tBodies[0];
  tbody.replaceChildren();
  for (const { bucket, answer } of results) {
    if (answer.status !== 200) continue;
    const c = answer.body.cache;
    const row = el("tr", { "data-bucket": bucket });
    row.append(
      el("th", { scope: "row" }, bucket),
      cell("cache_result", c.result, c.result, { class: `cache-${c.result}` }),
      cell("computed_at", c.computed_at, formatTime(c.computed_at)),
      cell("age_seconds", c.age_seconds, formatAge(c.age_seconds), { class: "num" }),
    );
    tbody.append(row);
  }
}

function renderJobs(jobs) {
  const tbody = $("jobs").tBodies[0];
  tbody.replaceChildren();
  for (const job of jobs) {
    const row = el("tr", { "data-job": job.job });
    row.append(
      el("th", { scope: "row" }, job.job),
      cell("successes", job.successes, formatCount(job.successes), { class: "num" }),
      cell("failures", job.failures, formatCount(job.failures), { class: job.failures ? "num error" : "num" }),
      cell("last_success_at", job.last_success_at ?? "", job.last_success_at ? formatTime(job.last_success_at) : "never"),
    );
    tbody.append(row);
  }
  $("no-jobs").hidden = jobs.length > 0;
}

function renderReferenceCache(ref) {
  const dl = $("refcache");
  dl.replaceChildren();
  const lookups = ref.hits + ref.misses;
  const items = [
    ["Entries", "entries", ref.entries, formatCount(ref.entries)],
    ["Bytes held", "bytes", ref.bytes, formatBytes(ref.bytes)],
    ["Hits", "hits", ref.hits, formatCount(ref.hits)],
    ["Misses", "misses", ref.misses, formatCount(ref.misses)],
    ["Hit ratio", "hit_ratio", lookups ? ref.hits / lookups : "", formatPercent(ref.hits, lookups)],
  ];
  for (const [label, field, value, text] of items) {
    dl.append(el("dt", {}, label), el("dd", { "data-field": field, "data-value": value }, text));
  }
}

// A scale from 0 to a round value in the unit of the largest figure (e.g. 0, 200 KiB ... 800 KiB).
function niceScale(max) {
  let unit = 1;
  let unitIndex = 0;
  while (max / unit >= 1024 && unitIndex < UNITS.length - 1) {
    unit *= 1024;
    unitIndex += 1;
  }
  const raw = max / unit / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) * unit;
  if (step < 1) step = 1;
  return { step, top: step * Math.max(1, Math.ceil(max / step)), unit, unitName: UNITS[unitIndex] };
}

function formatTick(value, scale) {
  return value === 0 ? "0" : `${Number((value / scale.unit).toFixed(2))} ${scale.unitName}`;
}

// Grouped bars, original vs stored, one group per bucket, on a shared linear scale from 0.
// data-max on the <svg> is the scale's top: a bar's height is plotHeight * value / data-max.
function renderChart(results) {
  const figure = $("chart");
  figure.replaceChildren();
  const rows = results.filter((r) => r.answer.status === 200).map((r) => r.answer.body);
  if (rows.length === 0) {
    figure.append(el("p", { class: "muted" }, "No bucket figures to chart."));
    return;
  }
  const plotHeight = 220;
  const top = 48;
  const left = 80;
  const group = 170;
  const bar = 56;
  const gap = 10;
  const width = Math.max(left + rows.length * group + 10, 420);
  const height = top + plotHeight + 48;
  const scale = niceScale(Math.max(1, ...rows.flatMap((r) => [r.total_size, r.compressed_size])));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "data-max": scale.top });
  root.append(svg("title", {}, "Original vs stored bytes per bucket"));

  for (let tick = 0; tick <= scale.top; tick += scale.step) {
    const y = top + plotHeight - (plotHeight * tick) / scale.top;
    root.append(svg("line", { x1: left, x2: width - 10, y1: y, y2: y, class: tick ? "grid" : "axis" }));
    root.append(svg("text", { x: left - 8, y: y + 4, class: "tick", "text-anchor": "end" }, formatTick(tick, scale)));
  }

  rows.forEach((r, index) => {
    const x0 = left + index * group + (group - 2 * bar - gap) / 2;
    const bars = [
      ["original", r.total_size],
      ["stored", r.compressed_size],
    ];
    bars.forEach(([kind, value], j) => {
      const h = (plotHeight * value) / scale.top;
      const x = x0 + j * (bar + gap);
      const y = top + plotHeight - h;
      const rect = svg("rect", {
        x,
        y,
        width: bar,
        height: h,
        class: `bar bar-${kind}`,
        "data-bucket": r.bucket,
        "data-kind": kind,
        "data-value": value,
      });
      rect.append(svg("title", {}, `${r.bucket}, ${kind}: ${formatBytes(value)} (${value} bytes)`));
      const label = svg("text", { x: x + bar / 2, y: y - 6, class: "value", "text-anchor": "middle" }, formatBytes(value));
      root.append(rect, label);
    });
    const middle = x0 + bar + gap / 2;
    const name = r.bucket.length > 22 ? `${r.bucket.slice(0, 21)}…` : r.bucket;
    const label = svg("text", { x: middle, y: top + plotHeight + 20, class: "bucket", "text-anchor": "middle" }, name);
    label.append(svg("title", {}, r.bucket));
    const saved = `${formatPercent(r.space_saved, r.total_size)} saved`;
    root.append(label, svg("text", { x: middle, y: top + plotHeight + 38, class: "tick", "text-anchor": "middle" }, saved));
  });

  const legend = svg("g", { class: "legend" });
  [
    ["original", "original bytes"],
    ["stored", "stored bytes"],
  ].forEach(([kind, text], i) => {
    const x = left + i * 150;
    legend.append(svg("rect", { x, y: 6, width: 14, height: 14, class: `bar bar-${kind}` }));
    legend.append(svg("text", { x: x + 20, y: 18 }, text));
  });
  root.append(legend);
  figure.append(root);
}

function renderSummary(status, results) {
  const ok = results.filter((r) => r.answer.status === 200).map((r) => r.answer.body);
  const original = ok.reduce((sum, s) => sum + s.total_size, 0);
  const stored = ok.reduce((sum, s) => sum + s.compressed_size, 0);
  const parts = [
    `${results.length} bucket${results.length === 1 ? "" : "s"}`,
    `${formatBytes(original)} original kept in ${formatBytes(stored)} (${formatPercent(original - stored, original)} saved)`,
    `Glider ${status.version}`,
  ];
  $("summary").textContent = parts.join(" · ");
  $("generated").textContent = `Loaded ${formatTime(status.generated_at)} UTC.`;
}

// ---- flow ----

function showAuth(message) {
  $("content").hidden = true;
  $("failure").hidden = true;
  $("auth").hidden = false;
  $("auth-error").textContent = message || "";
  $("summary").textContent = "A read token is needed.";
  setState("auth");
}

function showFailure(message) {
  $("failure").textContent = message;
  $("failure").hidden = false;
  setState("error");
}

let loading = false;

async function load() {
  if (loading) return;
  loading = true;
  setState("loading");
  try {
    const mode = $("mode").value;
    const status = await api("/status");
    if (status.status === 401 || status.status === 403) {
      showAuth(token() ? problemText(status) : "");
      return;
    }
    if (status.status !== 200) {
      showFailure(`GET /status failed: ${problemText(status)}`);
      return;
    }
    const buckets = status.body.buckets;
    const answers = await Promise.all(
      buckets.map((b) => api(`/buckets/${encodeURIComponent(b)}/stats?mode=${encodeURIComponent(mode)}`)),
    );
    const results = buckets.map((bucket, i) => ({ bucket, answer: answers[i] }));
    $("auth").hidden = true;
    $("failure").hidden = true;
    renderSummary(status.body, results);
    renderChart(results);
    renderBuckets(results);
    renderCache(results);
    renderJobs(status.body.jobs);
    renderReferenceCache(status.body.reference_cache);
    $("content").hidden = false;
    setState("ready");
  } catch (err) {
    showFailure(`The server could not be reached: ${err}`);
  } finally {
    loading = false;
  }
}

function start() {
  adoptFragmentToken();
  const wanted = new URLSearchParams(window.location.search).get("mode");
  if (MODES.includes(wanted)) $("mode").value = wanted;
  $("mode").addEventListener("change", load);
  $("refresh").addEventListener("click", load);
  $("controls").addEventListener("submit", (event) => event.preventDefault());
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showAuth("");
  });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    load();
  });
  load();
}

document.addEventListener("DOMContentLoaded", start);
