// Cascade dashboard: one page, tabs chosen by the URL hash. Plain JS over the server's JSON
// routes (/recommend, /users, /events, /offline, /stats); charts with Chart.js.
'use strict';

const state = { user: '', k: 10, lambda: 0.2, page: 'recommend', charts: {}, lastStats: null, timer: null };
const STAGES = ['store', 'recall', 'features', 'pre_rank', 'fine_rank', 'rerank'];
const STAGE_LABEL = { store: 'read events', recall: 'recall + fusion', features: 'features', pre_rank: 'pre-rank',
  fine_rank: 'fine rank', rerank: 're-rank', total: 'whole request', pool: 'recall pool', top10: 'final top 10' };
const ROUTE_LABEL = { ui: 'dashboard files', stats: 'dashboard metrics (this page)', users: 'user search',
  history: 'user history', offline: 'offline results', other: 'unknown routes' };

const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function fmt(x, d = 3) { return x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toFixed(d); }
function showError(msg) { const b = $('error-bar'); b.textContent = msg; b.hidden = false; }
function clearError() { $('error-bar').hidden = true; }

async function getJson(url, opts) {
  const r = await fetch(url, opts);
  const body = await r.json();
  if (!r.ok) throw new Error((body.error && body.error.message) || `${url}: HTTP ${r.status}`);
  return body;
}
function recommendUrl(lambda, explain = true) {
  return `/recommend/${encodeURIComponent(state.user)}?k=${state.k}&diversity=${Number(lambda).toFixed(2)}&explain=${explain}`;
}
function genreTags(genres) {
  const span = el('span');
  for (const g of genres || []) span.append(el('span', { class: 'tag', text: g }));
  return span;
}
function itemLabel(it) { return it.year ? `${it.title}` : it.title || it.item_id; }
function chart(id, config) {
  if (state.charts[id]) state.charts[id].destroy();
  state.charts[id] = new Chart($(id), config);
  return state.charts[id];
}
function table(t, headers, rows) {
  t.replaceChildren(el('tr', {}, ...headers.map((h) => el('th', { text: h }))));
  for (const r of rows) {
    t.append(el('tr', {}, ...r.map((c) => {
      if (c instanceof Node) return el('td', {}, c);
      return typeof c === 'number' ? el('td', { class: 'num', text: fmt(c) }) : el('td', { text: c ?? '–' });
    })));
  }
}

// ---- Recommend -------------------------------------------------------------------------
async function loadHistory() {
  const h = await getJson(`/users/${encodeURIComponent(state.user)}/history?n=20`);
  $('history-summary').textContent =
    `(${h.train_rows} training + ${h.live_events} live items; newest 20 shown${h.known_user ? '' : '; not a training user'})`;
  table($('history-table'), ['Newest first', 'Year', 'Genres', 'When', 'Source'],
    h.items.map((it) => [it.title ?? `${it.item_id} (not in the catalogue)`, it.year ? String(it.year) : '–',
      genreTags(it.genres), new Date(it.timestamp * 1000).toISOString().slice(0, 10), it.source]));
  return h;
}
function renderRecommendations(rec) {
  table($('rec-table'), ['#', 'Title', 'Year', 'Genres', 'Fused recall', 'Pre-rank', 'Fine rank', 'Final (re-rank)',
    'Recall channels', 'Why'],
  rec.items.map((it, i) => [String(i + 1), it.title, it.year ? String(it.year) : '–', genreTags(it.genres),
    it.stages.fused, it.stages.pre_rank, it.stages.fine_rank, it.stages.rerank, it.channels.join(', '),
    it.reason || '']));
  const lat = rec.latency_ms;
  chart('latency-chart', {
    type: 'bar',
    data: { labels: STAGES.map((s) => STAGE_LABEL[s]),
      datasets: [{ label: `milliseconds (total ${fmt(lat.total, 2)} ms)`, data: STAGES.map((s) => lat[s]),
        backgroundColor: '#3b6ea5' }] },
    options: { indexAxis: 'y', maintainAspectRatio: false, animation: false,
      scales: { x: { title: { display: true, text: 'milliseconds' }, beginAtZero: true },
        y: { title: { display: true, text: 'funnel stage' } } } },
  });
}
async function showRecommend() {
  const [, rec] = await Promise.all([loadHistory(), getJson(recommendUrl(state.lambda))]);
  renderRecommendations(rec);
}

// ---- Diversity --------------------------------------------------------------------------
function jaccard(a, b) {
  const A = new Set(a), B = new Set(b);
  const inter = [...A].filter((x) => B.has(x)).length, uni = new Set([...A, ...B]).size;
  return uni === 0 ? 0 : inter / uni;
}
function listMetrics(items) {
  let sum = 0, pairs = 0;
  for (let i = 0; i < items.length; ++i)
    for (let j = i + 1; j < items.length; ++j) { sum += jaccard(items[i].genres, items[j].genres); ++pairs; }
  const genres = new Set(items.flatMap((it) => it.genres || []));
  return { ils: pairs ? sum / pairs : 0, coverage: genres.size };
}
function fillList(ol, items, highlight) {
  ol.replaceChildren(...items.map((it) => {
    const li = el('li', {}, `${itemLabel(it)} `, genreTags(it.genres));
    if (highlight && !highlight.has(it.item_id)) li.className = 'new';
    return li;
  }));
}
async function showDiversity() {
  const [base, chosen] = await Promise.all([getJson(recommendUrl(0, false)), getJson(recommendUrl(state.lambda, false))]);
  const baseIds = new Set(base.items.map((it) => it.item_id));
  for (const [side, rec, lam] of [['left', base, 0], ['right', chosen, state.lambda]]) {
    const m = listMetrics(rec.items);
    $(`div-${side}-title`).textContent = `λ = ${fmt(lam, 2)}${side === 'left' ? ' (relevance only)' : ' (slider; highlighted: not in the λ = 0 list)'}`;
    $(`div-${side}-metrics`).replaceChildren(el('span', {}, 'intra-list similarity ', el('b', { text: fmt(m.ils, 3) }),
      ' · genre coverage ', el('b', { text: `${m.coverage} genres` })));
    fillList($(`div-${side}`), rec.items, side === 'right' ? baseIds : null);
  }
  const lambdas = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
  const sweep = await Promise.all(lambdas.map((l) => getJson(recommendUrl(l, false))));
  const points = sweep.map((rec) => {
    const m = listMetrics(rec.items);
    return { ils: m.ils, coverage: m.coverage,
      kept: rec.items.filter((it) => baseIds.has(it.item_id)).length / Math.max(1, base.items.length) };
  });
  const mark = () => lambdas.map((l) => (Math.abs(l - state.lambda) < 1e-9 ? 7 : 3));
  chart('pareto-chart', {
    type: 'line',
    data: { labels: lambdas.map((l) => l.toFixed(1)), datasets: [
      { label: 'share of the λ = 0 items kept (left axis)', data: points.map((p) => p.kept), borderColor: '#3b6ea5',
        backgroundColor: '#3b6ea5', pointRadius: mark(), yAxisID: 'y' },
      { label: 'intra-list genre similarity (left axis)', data: points.map((p) => p.ils), borderColor: '#d9480f',
        backgroundColor: '#d9480f', pointRadius: mark(), yAxisID: 'y' },
      { label: 'genre coverage, distinct genres (right axis)', data: points.map((p) => p.coverage), borderColor: '#2b8a3e',
        backgroundColor: '#2b8a3e', borderDash: [6, 4], pointRadius: mark(), yAxisID: 'y2' }] },
    options: { maintainAspectRatio: false, animation: false,
      scales: { x: { title: { display: true, text: 'diversity λ' } },
        y: { title: { display: true, text: 'share / similarity (0–1)' }, min: 0, max: 1 },
        y2: { position: 'right', title: { display: true, text: 'distinct genres in the list' }, beginAtZero: true,
          grid: { drawOnChartArea: false } } } },
  });
}

// ---- Live -------------------------------------------------------------------------------
async function showLive() {
  const rec = await getJson(recommendUrl(state.lambda, false));
  renderLiveList($('live-before'), rec.items, null);
  $('live-after').replaceChildren();
  if (!$('live-item').value && rec.items.length) $('live-item').value = rec.items[0].item_id;
}
function renderLiveList(ol, items, before, posted) {
  ol.replaceChildren(...items.map((it) => {
    const b = el('button', { class: 'small', text: 'mark watched' });
    b.addEventListener('click', () => { $('live-item').value = it.item_id; postLive(); });
    const li = el('li', {}, `${itemLabel(it)} `, b);
    if (before && !before.has(it.item_id)) li.className = 'new';
    if (it.item_id === posted) li.className = 'posted';
    return li;
  }));
}
async function postLive() {
  const item = $('live-item').value.trim();
  if (!item) { $('live-status').textContent = 'type an item id first'; return; }
  const before = await getJson(recommendUrl(state.lambda, false));
  const res = await getJson('/events', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user_id: state.user, item_id: item }) });
  const after = await getJson(recommendUrl(state.lambda, false));
  const beforeIds = new Set(before.items.map((it) => it.item_id));
  renderLiveList($('live-before'), before.items, null, item);
  renderLiveList($('live-after'), after.items, beforeIds, item);
  const changed = after.items.filter((it) => !beforeIds.has(it.item_id)).length;
  const known = before.items.find((it) => it.item_id === item);
  const name = known ? `“${known.title}” (item ${item})` : `item ${item}`;
  $('live-status').textContent = `Posted: user ${state.user} watched ${name}` +
    `${res.unknown_items ? ' — not in the catalogue, so it does not change the history' : ''}. ` +
    `History now ${after.history} items; ${changed} new item(s) in the list.`;
  $('live-status').dataset.posted = String(Number($('live-status').dataset.posted || 0) + 1);
}

// ---- Attention --------------------------------------------------------------------------
async function showAttention() {
  const [rec, hist] = await Promise.all([getJson(recommendUrl(state.lambda)),
    getJson(`/users/${encodeURIComponent(state.user)}/history?n=500`)]);
  const wrap = $('attention-wrap');
  wrap.replaceChildren();
  if (!rec.attention) {
    $('attention-note').textContent = 'This bundle\'s funnel has no DIN ranker, so there are no attention weights to show.';
    return;
  }
  const titles = new Map(hist.items.map((it) => [it.item_id, it.title || it.item_id]));
  const H = rec.attention.history;
  $('attention-note').textContent = `Ranker ${rec.attention.ranker} at the ${rec.attention.stage.replace('_', ' ')} stage; ` +
    `${H.length} history items (oldest left), ${rec.items.filter((it) => it.attention).length} recommended items it scored. Hover a cell for the weight.`;
  // The colour spans the smallest to the largest weight shown (weights near uniform would
  // otherwise all look alike); masked positions (the item itself) are 0 and drawn white.
  let max = 0, min = Infinity;
  for (const it of rec.items) for (const w of it.attention || []) { max = Math.max(max, w); if (w > 0) min = Math.min(min, w); }
  if (!Number.isFinite(min)) min = 0;
  const t = el('table', { class: 'heat', id: 'attention-table' });
  const head = el('tr', {}, el('th', { text: 'recommended item ↓ / history item →' }));
  H.forEach((id) => head.append(el('th', { class: 'col', title: titles.get(id) || id }, el('div', { text: (titles.get(id) || id).slice(0, 28) }))));
  t.append(head);
  for (const it of rec.items) {
    if (!it.attention) continue;
    const tr = el('tr', { class: 'heat-row', 'data-item': it.item_id }, el('th', { class: 'rowh', title: it.title, text: it.title }));
    it.attention.forEach((w, j) => {
      const a = w <= 0 || max <= min ? (w > 0 ? 1 : 0) : 0.08 + 0.92 * (w - min) / (max - min);
      const c = [255 - a * (255 - 31), 255 - a * (255 - 59), 255 - a * (255 - 90)].map(Math.round);
      tr.append(el('td', { class: 'heat-cell', style: `background: rgb(${c.join(',')})`,
        title: `${it.title} ← ${titles.get(H[j]) || H[j]}: ${fmt(w, 4)}`, text: fmt(w, 2) }));
    });
    t.append(tr);
  }
  wrap.append(el('div', { class: 'legend' }, `${fmt(min, 4)} (smallest weight shown)`, el('span', { class: 'bar' }),
    `${fmt(max, 4)} (largest); white = 0 (the item itself)`), t);
}

// ---- Offline ----------------------------------------------------------------------------
function isScalar(v) { return v === null || ['string', 'number', 'boolean'].includes(typeof v); }
// Any JSON report as tables: arrays of objects become one table, objects key/value rows
// (nested objects one level deeper as their own small tables).
function jsonView(v, depth = 0) {
  if (isScalar(v)) return document.createTextNode(typeof v === 'number' ? fmt(v, 4) : String(v));
  if (Array.isArray(v)) {
    if (v.length && v.every((x) => x && typeof x === 'object' && !Array.isArray(x))) {
      const keys = [...new Set(v.flatMap((x) => Object.keys(x)))];
      const t = el('table', { class: 'data' });
      table(t, keys, v.map((x) => keys.map((k) => (isScalar(x[k]) ? x[k] : jsonView(x[k], depth + 1)))));
      return t;
    }
    return document.createTextNode(v.map((x) => (isScalar(x) ? (typeof x === 'number' ? fmt(x, 4) : x) : JSON.stringify(x))).join(', '));
  }
  if (depth > 3) return document.createTextNode(JSON.stringify(v));
  const t = el('table', { class: 'data' });
  for (const [k, x] of Object.entries(v)) t.append(el('tr', {}, el('th', { text: k }), el('td', {}, jsonView(x, depth + 1))));
  return t;
}
async function showOffline() {
  const o = await getJson('/offline');
  const c = $('offline-content');
  c.replaceChildren(el('p', {}, 'Served funnel: ', el('code', { text: o.funnel || '(not recorded)' })));
  c.append(el('h3', { text: 'The served funnel on held-out users (from the bundle manifest)' }));
  if (o.offline) {
    const rows = [];
    for (const split of ['valid', 'test']) {
      const s = o.offline[split];
      if (!s) continue;
      const d = (s.vs_pool || {})['recall@10'] || {};
      rows.push([split === 'valid' ? 'validation' : 'test', String(s.users ?? '–'), s['recall@10'], s['ndcg@10'],
        (s.pool || {})['recall@10'], d.diff, d.ci_low !== undefined ? `[${fmt(d.ci_low)}, ${fmt(d.ci_high)}]` : '–',
        s['coverage@10'], s['ils@10']]);
    }
    const t = el('table', { class: 'data', id: 'offline-summary' });
    table(t, ['Held-out split', 'Users', 'Recall@10', 'NDCG@10', 'Recall@10 of the recall pool alone (no rankers)',
      'Gain of the rankers (Recall@10)', '95% interval of the gain', 'Catalogue coverage@10', 'Intra-list similarity@10'], rows);
    c.append(t);
    c.append(el('p', { class: 'muted', text: 'Recall@10: share of each user\'s held-out item found in their top 10. ' +
      'NDCG@10 also rewards a higher place. Coverage: share of the catalogue that appears in some top 10.' }));
  } else {
    c.append(el('p', { class: 'muted', text: 'not in this bundle (built without an offline evaluation)' }));
  }
  const names = { quality: 'Recall channels and fusion (bench quality)', funnel: 'Funnel: retention by stage and rankers (bench funnel)',
    rerank: 'Re-rank λ sweep: relevance against diversity (bench rerank, else the bundle\'s own sweep)' };
  const renderers = { quality: renderQuality, funnel: renderFunnel, rerank: renderRerank };
  for (const [key, title] of Object.entries(names)) {
    c.append(el('h3', { text: title }));
    // The λ sweep: a bench rerank JSON kept with the bundle, else the bundle's own sweep on validation.
    const r = o.reports[key] ?? (key === 'rerank' ? o.offline?.rerank_sweep : null);
    if (r === null || r === undefined) {
      c.append(el('p', { class: 'muted', text: o.report_errors[key] || `not in this bundle (reports/${key}.json)` }));
      continue;
    }
    const box = el('div', { class: 'report', id: `report-${key}` });
    c.append(box);
    renderers[key](box, r);
    box.append(el('details', {}, el('summary', { text: 'the whole report (all fields)' }), jsonView(r)));
  }
}

// "0.123 [0.100, 0.150]" for a {diff, ci_low, ci_high} comparison.
function withCi(d) {
  if (!d || d.diff === undefined) return '–';
  return `${d.diff >= 0 ? '+' : ''}${fmt(d.diff)} [${fmt(d.ci_low)}, ${fmt(d.ci_high)}]`;
}
function dataTable(headers, rows, id) {
  const t = el('table', { class: 'data', ...(id ? { id } : {}) });
  table(t, headers, rows);
  return t;
}
function canvasBox(id) {
  const box = el('div', { class: 'chart-box' }, el('canvas', { id }));
  return box;
}
function renderQuality(box, r) {
  const ch = r.channels || {};
  const names = Object.keys(ch).filter((n) => !n.startsWith('fusion'));
  box.append(el('p', { class: 'muted', text: `Each recall channel alone, then the fused pool, on ${r.users ?? '?'} held-out users ` +
    `(${r.dataset ?? ''}, ${r.protocol ?? ''}). Pool recall: share of held-out items in the channel's own top ${ch.fusion?.pool_size ?? 'pool'}.` }));
  const row = (n, m) => [n, m['recall@10'], m['ndcg@10'], m['recall@200'], m.pool_recall, m['coverage@10']];
  const rows = names.map((n) => row(n, ch[n]));
  if (ch.fusion) rows.push(row(`fused (${ch.fusion.method ?? ''})`, ch.fusion));
  box.append(dataTable(['Channel', 'Recall@10', 'NDCG@10', 'Recall@200', 'Pool recall', 'Coverage@10'], rows, 'quality-channels'));
  const drop = ch.fusion?.drop_one;
  if (drop && Object.keys(drop).length) {
    box.append(el('h4', { text: 'Fusion without one channel (drop-one): the fused figures without it, and the loss against the full fusion (95% interval)' }));
    const metrics = [...new Set(Object.values(drop).flatMap((v) => Object.keys(v || {})))];
    box.append(dataTable(['Channel left out', ...metrics.map((m) => m.replace(/^loss_(.*)$/, 'loss of $1'))],
      Object.entries(drop).map(([n, v]) => [n, ...metrics.map((m) => (typeof v[m] === 'object' ? withCi(v[m]) : v[m]))]), 'quality-drop-one'));
  }
}
function renderFunnel(box, r) {
  const f = r.funnel || {};
  box.append(el('p', {}, 'Funnel chosen on validation: ', el('code', { text: f.spec || r.configured_funnel || '?' }),
    ` — test Recall@10 ${fmt(f['recall@10'])}, NDCG@10 ${fmt(f['ndcg@10'])}; gain over the recall pool: ${withCi(f.vs_pool?.['recall@10'])}`));
  if (f.retention) {
    box.append(el('h4', { text: 'Retention: share of held-out items still in the list after each stage' }));
    // Funnel order: the server's JSON arrives with its keys sorted (fine_rank before pool).
    const FUNNEL_ORDER = ['pool', 'pre_rank', 'fine_rank', 'top10'];
    const rank = (s) => (FUNNEL_ORDER.includes(s) ? FUNNEL_ORDER.indexOf(s) : FUNNEL_ORDER.length);
    const stages = Object.keys(f.retention).sort((a, b) => rank(a) - rank(b));
    box.append(canvasBox('retention-chart'));
    chart('retention-chart', { type: 'bar',
      data: { labels: stages.map((s) => STAGE_LABEL[s] || s), datasets: [{ label: 'share of held-out items kept', data: stages.map((s) => f.retention[s]), backgroundColor: '#3b6ea5' }] },
      options: { maintainAspectRatio: false, animation: false,
        scales: { y: { title: { display: true, text: 'share of held-out items (recall)' }, beginAtZero: true },
          x: { title: { display: true, text: 'after stage' } } } } });
  }
  if (r.rankers) {
    box.append(el('h4', { text: 'Each ranker alone over the recall pool (test users; gain with 95% bootstrap interval)' }));
    box.append(dataTable(['Ranker', 'Recall@10', 'NDCG@10', 'AUC in pool', 'Recall@10 gain over pool', 'NDCG@10 gain over pool', 'ms per user'],
      Object.entries(r.rankers).map(([n, m]) => [n, m['recall@10'], m['ndcg@10'], m.auc_in_pool, withCi(m.vs_pool?.['recall@10']),
        withCi(m.vs_pool?.['ndcg@10']), m.ms_per_user]), 'funnel-rankers'));
  }
}
function renderRerank(box, r) {
  const sweep = r.sweep || [];
  box.append(el('p', { class: 'muted', text: `Every λ on ${sweep[0]?.users ?? '?'} ${r.split ?? ''} users. Intra-list similarity: ${r.ils_space ?? 'similarity of the items of a list'} (lower = more varied).` }));
  box.append(dataTable(['λ', 'Recall@10', 'NDCG@10', 'Coverage@10', 'Intra-list similarity@10', 'NDCG@10 against the pool'],
    sweep.map((x) => [String(x.lambda), x['recall@10'], x['ndcg@10'], x['coverage@10'], x['ils@10'], withCi(x.vs_pool?.['ndcg@10'])]), 'rerank-sweep'));
  box.append(canvasBox('rerank-pareto'));
  chart('rerank-pareto', { type: 'scatter',
    data: { datasets: [{ label: 'one λ (hover for its value)', data: sweep.map((x) => ({ x: x['ils@10'], y: x['ndcg@10'], lambda: x.lambda })),
      showLine: true, borderColor: '#3b6ea5', backgroundColor: '#3b6ea5' }] },
    options: { maintainAspectRatio: false, animation: false,
      plugins: { tooltip: { callbacks: { label: (c) => `λ=${c.raw.lambda}: similarity ${fmt(c.raw.x)}, NDCG@10 ${fmt(c.raw.y)}` } } },
      scales: { x: { reverse: true, title: { display: true, text: 'intra-list similarity@10 (right = more varied lists)' } },
        y: { title: { display: true, text: 'NDCG@10 (relevance)' } } } } });
}

// ---- Service ----------------------------------------------------------------------------
function card(label, value, cls) { return el('div', { class: 'card' }, el('div', { class: 'muted', text: label }), el('div', { class: `v ${cls || ''}`, text: value })); }
async function pollStats() {
  const s = await getJson('/stats');
  const now = performance.now();
  let rate = '–', errRate = '–';
  if (state.lastStats) {
    const dt = (now - state.lastStats.at) / 1000;
    const dTotal = s.requests.total - state.lastStats.s.requests.total;
    const dErr = s.requests.server_errors + s.requests.client_errors -
      state.lastStats.s.requests.server_errors - state.lastStats.s.requests.client_errors;
    rate = `${fmt(dTotal / dt, 1)} req/s`;
    errRate = dTotal > 0 ? `${fmt((100 * dErr) / dTotal, 1)} %` : '0 %';
  }
  state.lastStats = { s, at: now };
  const redis = !s.redis.configured ? ['not configured (in-process store)', ''] : s.redis.up ? ['up', 'ok'] : ['DOWN', 'bad'];
  $('service-cards').replaceChildren(card('Request rate (last 2 s)', rate), card('Error rate (4xx + 5xx, last 2 s)', errRate),
    card('Requests since start', String(s.requests.total)), card('Redis feature store', redis[0], redis[1]),
    card('Bundle version', s.bundle_version || 'none'), card('Uptime', `${fmt(s.uptime_s, 0)} s`));
  $('reload-row').hidden = !s.admin_reload;
  $('reload-off').hidden = s.admin_reload;
  const st = s.latency_ms.stages;
  const ds = ['p50', 'p95', 'p99'].map((p, i) => ({ label: p === 'p50' ? 'p50 (median)' : p, data: st.map((x) => x[p]), backgroundColor: ['#7aa6d6', '#3b6ea5', '#1f3b5a'][i] }));
  if (state.charts['stage-chart'] && state.page === 'service') {
    const c = state.charts['stage-chart'];
    ds.forEach((d, i) => { c.data.datasets[i].data = d.data; });
    c.update('none');
  } else {
    chart('stage-chart', { type: 'bar', data: { labels: st.map((x) => STAGE_LABEL[x.stage] || x.stage), datasets: ds },
      options: { maintainAspectRatio: false, animation: false,
        scales: { y: { type: 'logarithmic', title: { display: true, text: 'milliseconds (estimated, log scale)' } },
          x: { title: { display: true, text: '/recommend stage' } } } } });
  }
  table($('route-table'), ['Route', 'What it serves', 'HTTP status', 'Requests'],
    s.requests.by_route.map((r) => [r.route, ROUTE_LABEL[r.route] || `/${r.route}`, String(r.status), String(r.count)]));
}

// ---- Shell ------------------------------------------------------------------------------
const PAGES = { recommend: showRecommend, diversity: showDiversity, live: showLive, attention: showAttention,
  offline: showOffline, service: pollStats };
async function render() {
  const page = (location.hash || '#recommend').slice(1);
  state.page = PAGES[page] ? page : 'recommend';
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.getAttribute('href') === `#${state.page}`));
  document.querySelectorAll('.page').forEach((p) => p.classList.toggle('active', p.id === `page-${state.page}`));
  $('user-bar').hidden = ['offline', 'service'].includes(state.page);
  clearInterval(state.timer);
  document.body.dataset.ready = 'false';
  try {
    clearError();
    await PAGES[state.page]();
    if (state.page === 'service') state.timer = setInterval(() => pollStats().catch((e) => showError(e.message)), 2000);
  } catch (e) {
    showError(e.message);
  }
  document.body.dataset.ready = 'true';
}
async function suggestUsers() {
  const q = $('user-input').value.trim();
  const r = await getJson(`/users?q=${encodeURIComponent(q)}&limit=20`);
  $('user-list').replaceChildren(...r.users.map((u) => el('option', { value: u.user_id, label: `${u.history} items` })));
  return r;
}
async function init() {
  const h = await getJson('/health');
  $('bundle-info').textContent = `bundle ${h.bundle_version} · funnel ${h.funnel || '?'}`;
  const r = await suggestUsers();
  const params = new URLSearchParams(location.search);
  state.user = params.get('user') || (r.users[0] && r.users[0].user_id) || '1';
  const probe = await getJson(`/recommend/${encodeURIComponent(state.user)}?k=1`);
  state.lambda = probe.diversity;
  $('user-input').value = state.user;
  $('lambda-input').value = state.lambda;
  $('lambda-value').textContent = fmt(state.lambda, 2);
  $('user-input').addEventListener('input', () => suggestUsers().catch((e) => showError(e.message)));
  $('user-input').addEventListener('change', () => { state.user = $('user-input').value.trim(); render(); });
  $('k-input').addEventListener('change', () => { state.k = Math.max(1, Math.min(50, Number($('k-input').value) || 10)); render(); });
  $('lambda-input').addEventListener('input', () => { $('lambda-value').textContent = fmt($('lambda-input').value, 2); });
  $('lambda-input').addEventListener('change', () => { state.lambda = Number($('lambda-input').value); render(); });
  $('live-post').addEventListener('click', () => postLive().catch((e) => showError(e.message)));
  $('reload-button').addEventListener('click', async () => {
    $('reload-status').textContent = 'reloading…';
    try {
      // The token is sent with this one request and kept nowhere (not in storage, not in the URL).
      const res = await getJson('/admin/reload', { method: 'POST', headers: { Authorization: `Bearer ${$('admin-token').value.trim()}` } });
      $('reload-status').textContent = `now serving ${res.bundle_version}`;
    } catch (e) { $('reload-status').textContent = e.message; }
  });
  window.addEventListener('hashchange', render);
  await render();
}
init().catch((e) => { showError(e.message); document.body.dataset.ready = 'true'; });
