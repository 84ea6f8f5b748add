// keisei watch: the page. Polls each run's summary once a second and redraws what changed.
"use strict";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
const METRICS = ["loss", "entropy", "approx_kl", "explained_variance", "value_loss"];
const POLL_MS = 1000;
const state = { runs: [], shown: new Set(), detail: 0, summaries: {}, seen: {}, charts: {}, game: null };

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
};
const fmt = (x, digits = 0) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));
const color = (id) => COLORS[id % COLORS.length];
const pathUrl = (p) => p.split("/").map(encodeURIComponent).join("/");
const duration = (s) => {
  if (s === undefined || s === null) return "–";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
};

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

// -- runs -------------------------------------------------------------------------------
async function start() {
  state.runs = await getJson("/api/runs");
  const box = $("runs");
  const select = $("detail-run");
  for (const run of state.runs) {
    state.shown.add(run.id);
    const check = el("input", { type: "checkbox", checked: true });
    check.addEventListener("change", () => {
      if (check.checked) state.shown.add(run.id); else state.shown.delete(run.id);
      redrawCharts(true);
    });
    box.append(el("label", { style: `color:${color(run.id)}` }, check, " " + run.name));
    select.append(el("option", { value: run.id }, run.name));
  }
  select.addEventListener("change", () => {
    state.detail = Number(select.value);
    state.seen = {};
    renderDetail(true);
  });
  document.addEventListener("keydown", onKey);
  for (const [id, f] of [["first", () => 0], ["prev", (p) => p - 1], ["next", (p) => p + 1], ["last", () => Infinity]]) {
    $(id).addEventListener("click", () => state.game && showPly(f(state.game.ply)));
  }
  $("checkpoint").addEventListener("change", analyse);
  await poll();
}

async function poll() {
  try {
    await Promise.all(state.runs.map(async (run) => {
      state.summaries[run.id] = await getJson(`/api/runs/${run.id}/summary`);
    }));
    render();
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    $("updated").textContent = "cannot reach keisei watch: " + err.message;
  }
  setTimeout(poll, POLL_MS);
}

function changed(key, value) {
  const text = JSON.stringify(value);
  if (state.seen[key] === text) return false;
  state.seen[key] = text;
  return true;
}

function render() {
  renderStatus();
  renderDamaged();
  redrawCharts(false);
  renderDetail(false);
}

function renderStatus() {
  const all = state.runs.map((r) => state.summaries[r.id]?.status);
  if (!changed("status", all)) return;
  const box = $("status");
  box.replaceChildren();
  for (const run of state.runs) {
    const s = state.summaries[run.id]?.status;
    if (!s) continue;
    const line = s.fresh === undefined ? "" : s.fresh ? "fresh run" : `resumed from ${s.resumed_from}`;
    const card = el("div", { class: "run-card", style: `--color:${color(run.id)}`, "data-run": run.id },
      el("div", {}, el("b", {}, run.name), " ", el("span", { class: `state ${s.state.replace(" ", "-")}` }, s.state)),
      el("div", {}, "step ", el("span", { id: `step-${run.id}`, "data-step": s.step }, s.step),
        " / ", s.total ?? "?"),
      el("progress", { max: s.total || 1, value: Math.min(s.step, s.total || 0) }),
      el("div", { class: "muted" }, `${fmt(s.steps_per_s)} steps/s · ETA ${duration(s.eta_s)} · ${line}`),
    );
    if (s.reason) card.append(el("div", { class: "reason" }, s.reason));
    box.append(card);
  }
}

function renderDamaged() {
  const lines = state.runs.flatMap((r) => (state.summaries[r.id]?.damaged || []).map((d) => `${r.name}: ${d}`));
  if (!changed("damaged", lines)) return;
  const box = $("damaged");
  box.hidden = lines.length === 0;
  box.replaceChildren(el("b", {}, "Damaged files (the rest is shown):"),
    el("ul", {}, ...lines.map((l) => el("li", {}, l))));
}

// -- charts -----------------------------------------------------------------------------
// Ratings are drawn on one axis only for runs that fix the same players (the same ladder
// rungs, random): the first shown run's scale; the others are named under the chart.
function ratingScale(runs) {
  const rated = runs.filter((r) => state.summaries[r.id].evaluations.some((e) => e.step !== null));
  const scale = (r) => state.summaries[r.id].ratings?.scale ?? "unknown (ratings.json unreadable)";
  const first = rated[0];
  const apart = rated.filter((r) => scale(r) !== scale(first));
  const note = apart.length
    ? `Not drawn, on another scale: ${apart.map((r) => `${r.name} (fixes ${scale(r)})`).join("; ")}. ` +
      `Drawn: the runs that fix what ${first.name} fixes (${scale(first)}).`
    : "";
  return { drawn: new Set(rated.filter((r) => !apart.includes(r)).map((r) => r.id)), note };
}

function chartData(metric) {
  const runs = state.runs.filter((r) => state.shown.has(r.id) && state.summaries[r.id]);
  const tables = [], series = [{ label: "step" }];
  const scale = metric === "rating" ? ratingScale(runs) : null;
  if (scale && changed("scale-note", scale.note)) {
    $("rating-scale").textContent = scale.note;
    $("rating-scale").hidden = !scale.note;
  }
  for (const run of runs) {
    const s = state.summaries[run.id];
    if (metric === "rating") {
      const ev = s.evaluations.filter((e) => e.step !== null);
      if (!ev.length || !scale.drawn.has(run.id)) continue;
      tables.push([ev.map((e) => e.step), ev.map((e) => e.rating), ev.map((e) => e.low), ev.map((e) => e.high)]);
      series.push({ label: run.name, stroke: color(run.id), width: 2, points: { show: true } },
        { label: "low", stroke: color(run.id), dash: [4, 4], width: 1 },
        { label: "high", stroke: color(run.id), dash: [4, 4], width: 1 });
    } else {
      const steps = s.curves.step || [];
      if (!steps.length) continue;
      tables.push([steps, s.curves[metric]]);
      series.push({ label: run.name, stroke: color(run.id), width: 1.5 });
    }
  }
  if (!tables.length) return null;
  return { data: uPlot.join(tables), series };
}

function redrawCharts(force) {
  for (const metric of ["rating", ...METRICS]) {
    const built = chartData(metric);
    if (!changed(`chart-${metric}`, built) && !force) continue;
    const box = $(`chart-${metric}`);
    const old = state.charts[metric];
    const signature = built ? built.series.map((s) => s.label).join("|") : "";
    if (old && old.signature === signature && built) {
      old.plot.setData(built.data);
      continue;
    }
    if (old) old.plot.destroy();
    delete state.charts[metric];
    box.querySelector(".empty")?.remove();
    if (!built) {
      box.append(el("div", { class: "empty muted" }, "no data yet"));
      continue;
    }
    const opts = {
      width: Math.max(380, box.clientWidth - 10), height: 200,
      series: built.series, spanGaps: true,
      scales: { x: { time: false } }, legend: { live: false },
    };
    state.charts[metric] = { plot: new uPlot(opts, built.data, box), signature };
  }
}

// -- the detail run: evaluations, ratings, results, games -----------------------------------
function renderDetail(force) {
  const s = state.summaries[state.detail];
  if (!s) return;
  if (changed("evaluations", s.evaluations) || force) {
    $("evaluations").tBodies[0].replaceChildren(...[...s.evaluations].reverse().map((e) =>
      el("tr", { "data-step": e.step }, el("td", { class: "num" }, e.step), el("td", { class: "num" }, fmt(e.rating)),
        el("td", {}, `${fmt(e.low)} .. ${fmt(e.high)}`),
        el("td", {}, Object.entries(e.scores || {}).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(", ")))));
  }
  if (changed("ratings", s.ratings) || force) {
    const players = s.ratings ? s.ratings.players : [];
    $("ratings").tBodies[0].replaceChildren(...players.map((p) =>
      el("tr", {}, el("td", {}, p.player), el("td", { class: "num" }, fmt(p.rating)),
        el("td", {}, p.interval ? `${fmt(p.interval[0])} .. ${fmt(p.interval[1])}` : "not connected"),
        el("td", { class: "num" }, p.games))));
  }
  if (changed("results", [s.results, s.reasons]) || force) {
    const rows = [...Object.entries(s.results), ...Object.entries(s.reasons).map(([k, v]) => [`  ${k}`, v])];
    $("results").tBodies[0].replaceChildren(...rows.map(([k, v]) =>
      el("tr", {}, el("td", {}, k), el("td", { class: "num" }, v))));
  }
  if (changed("games", s.games) || force) renderGames(s);
  if (changed("checkpoints", s.checkpoints) || force) {
    const select = $("checkpoint");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "(choose a checkpoint)"),
      ...s.checkpoints.map((c) => el("option", { value: c, selected: c === chosen }, c)));
  }
}

function renderGames(s) {
  $("games").replaceChildren(...s.games.map((g) => {
    const what = g.result ? ` · ${g.result} (${g.reason}), ${g.plies} plies` : "";
    const item = el("li", { "data-record": g.record, title: g.record }, `${g.name}${what}`);
    if (state.game && state.game.run === state.detail && state.game.record === g.record) item.classList.add("chosen");
    item.addEventListener("click", () => openGame(state.detail, g));
    return item;
  }));
}

// -- the game viewer --------------------------------------------------------------------
async function openGame(run, entry) {
  for (const li of $("games").children) li.classList.toggle("chosen", li.dataset.record === entry.record);
  $("game-title").textContent = entry.record;
  $("downloads").replaceChildren(...Object.entries(entry.files).map(([kind, path]) =>
    el("a", { href: `/api/runs/${run}/files/${pathUrl(path)}`, download: "" }, `${kind.toUpperCase()} `)));
  try {
    const data = await getJson(`/api/runs/${run}/game/${pathUrl(entry.record)}`);
    state.game = { run, record: entry.record, data, ply: 0 };
  } catch (err) {
    state.game = null;
    $("game-result").replaceChildren(el("span", { class: "damaged" }, `cannot show this game: ${err.message}`));
    $("moves").tBodies[0].replaceChildren();
    return;
  }
  const d = state.game.data;
  const names = d.names.length ? `☗${d.names[0]} vs ☖${d.names[1]}: ` : "";
  $("game-result").textContent = `${names}${d.result}${d.reason ? ` (${d.reason})` : ""}, ${d.usi.length} plies`;
  $("moves").tBodies[0].replaceChildren(...d.usi.map((u, i) => {
    const row = el("tr", { "data-ply": i + 1 }, el("td", { class: "num" }, i + 1),
      el("td", {}, ((i + sideOffset(d.start)) % 2 ? "△" : "▲") + d.kif[i]), el("td", {}, u));
    row.addEventListener("click", () => showPly(i + 1));
    return row;
  }));
  showPly(0);
}

const sideOffset = (sfen) => (sfen.split(" ")[1] === "w" ? 1 : 0);

function showPly(ply) {
  const g = state.game;
  if (!g) return;
  g.ply = Math.max(0, Math.min(ply, g.data.usi.length));
  const board = $("board");
  board.dataset.sfen = g.data.sfens[g.ply];
  board.dataset.ply = g.ply;
  $("board-img").src = `/api/runs/${g.run}/board/${pathUrl(g.record)}?ply=${g.ply}`;
  $("ply-label").textContent = `${g.ply} / ${g.data.usi.length}`;
  for (const row of $("moves").tBodies[0].rows) {
    const current = Number(row.dataset.ply) === g.ply;
    row.classList.toggle("current", current);
    if (current) row.scrollIntoView({ block: "nearest" });
  }
  analyse();
}

function onKey(event) {
  if (!state.game || event.target.tagName === "SELECT") return;
  const moves = { ArrowLeft: -1, ArrowRight: 1 };
  if (event.key in moves) showPly(state.game.ply + moves[event.key]);
  else if (event.key === "Home") showPly(0);
  else if (event.key === "End") showPly(Infinity);
}

async function analyse() {
  const g = state.game, checkpoint = $("checkpoint").value, box = $("analysis");
  if (!g || !checkpoint) { box.replaceChildren(); return; }
  const ply = g.ply;
  box.textContent = "…";
  try {
    const url = `/api/runs/${g.run}/analysis/${pathUrl(g.record)}?ply=${ply}&checkpoint=${encodeURIComponent(checkpoint)}`;
    const a = await getJson(url);
    if (state.game !== g || g.ply !== ply) return;
    const value = a.value === null ? "no legal move" : `${fmt(a.value, 3)} for ${a.turn}`;
    box.replaceChildren(el("div", { "data-value": a.value ?? "" }, `value ${value}`),
      el("table", {}, ...a.moves.map((m) => el("tr", {}, el("td", {}, m.kif), el("td", {}, m.usi),
        el("td", { class: "num" }, `${fmt(100 * m.p, 1)}%`)))));
  } catch (err) {
    box.textContent = `cannot analyse: ${err.message}`;
  }
}

start();
