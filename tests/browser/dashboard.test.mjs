// The dashboard in a real browser: Debian's headless Chromium, driven by playwright-core,
// against a `cascade serve` this test starts (with a private redis-server on a unix socket) on
// the bundle given in CASCADE_BUNDLE. Every page must load with no console error and no failed
// request; the diversity slider must change the list; an event posted from the Live page must
// change the next list; the attention heatmap must draw one cell per history item for every
// item DIN scored. Screenshots of every page go to ARTIFACTS_DIR.
//
//   CASCADE_BIN=build/release/cascade CASCADE_BUNDLE=/tmp/b ARTIFACTS_DIR=build/browser-artifacts \
//     node --test tests/browser/dashboard.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BIN = process.env.CASCADE_BIN;
const BUNDLE = process.env.CASCADE_BUNDLE;
const ARTIFACTS = process.env.ARTIFACTS_DIR || 'build/browser-artifacts';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const USER = '1';
const PAGES = ['recommend', 'diversity', 'live', 'attention', 'offline', 'service'];

let tmp, redis, server, base, context, page;
const ADMIN_TOKEN = 'browser-test-token-0123456789';
const problems = [];  // console errors, page errors, failed requests: any one fails the test

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
async function waitFor(what, fn, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
function logOf(file) { try { return fs.readFileSync(file, 'utf8').slice(-2000); } catch { return ''; } }
async function api(p, opts) {
  const r = await fetch(base + p, opts);
  assert.ok(r.ok, `${p}: HTTP ${r.status}`);
  return r.json();
}
// Switches the tab the way a click on it does and waits until the page has drawn.
async function openPage(name) {
  await page.evaluate((h) => {
    document.body.dataset.ready = 'false';
    if (location.hash === `#${h}`) window.dispatchEvent(new HashChangeEvent('hashchange'));  // redraw
    else location.hash = h;
  }, name);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60000 });
}
async function shot(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}
async function listIds(selector) {
  return page.$$eval(selector, (rows) => rows.map((r) => r.textContent.trim()));
}

before(async () => {
  assert.ok(BIN && fs.existsSync(BIN), 'CASCADE_BIN must name the cascade binary');
  assert.ok(BUNDLE && fs.existsSync(path.join(BUNDLE, 'manifest.json')), 'CASCADE_BUNDLE must name a bundle dir');
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // Under /tmp: a unix socket path must fit in 108 bytes.
  tmp = fs.mkdtempSync('/tmp/cascade-browser-');
  const sock = path.join(tmp, 'redis.sock');
  redis = spawn('/usr/bin/redis-server', ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700',
    '--dir', tmp, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', path.join(tmp, 'redis.log')],
  { stdio: 'ignore' });
  await waitFor('redis socket', () => fs.existsSync(sock), 10000);
  const portFile = path.join(tmp, 'port');
  const log = fs.openSync(path.join(tmp, 'serve.log'), 'w');
  fs.writeFileSync(path.join(tmp, 'admin-token'), `${ADMIN_TOKEN}\n`, { mode: 0o600 });
  server = spawn(BIN, ['serve', '--bundle', BUNDLE, '--port', '0', '--redis', `unix:${sock}`, '--ready-file', portFile,
    '--admin-token-file', path.join(tmp, 'admin-token')],
    { stdio: ['ignore', log, log] });
  server.on('exit', (code) => { if (code) problems.push(`cascade serve exited with ${code}: ${logOf(path.join(tmp, 'serve.log'))}`); });
  const port = await waitFor('cascade serve to load the bundle', () => fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim(), 300000);
  base = `http://127.0.0.1:${port}`;

  context = await chromium.launchPersistentContext(path.join(tmp, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 900 },
  });
  page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`); });
  await page.goto(`${base}/?user=${USER}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60000 });
});

after(async () => {
  if (context) await context.close();
  if (server) { server.kill('SIGTERM'); await new Promise((r) => (server.exitCode !== null ? r() : server.once('exit', r))); }
  if (redis) { redis.kill('SIGTERM'); await new Promise((r) => (redis.exitCode !== null ? r() : redis.once('exit', r))); }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('every page loads and draws without console errors or failed requests', async () => {
  for (const p of PAGES) {
    await openPage(p);
    assert.equal(await page.isVisible('#error-bar'), false, `${p}: the page shows an error: ${await page.textContent('#error-bar')}`);
    if (p === 'service') await sleep(2500);  // a second poll, so the request rate shows
    await shot(p);
  }
  assert.deepEqual(problems, []);
});

test('the recommend page shows history, the final list with every column, and the latency chart', async () => {
  await openPage('recommend');
  const hist = await api(`/users/${USER}/history?n=20`);
  assert.equal((await page.$$('#history-table tr')).length, 1 + hist.items.length);
  const rows = await page.$$('#rec-table tr');
  assert.equal(rows.length, 1 + 10, 'header + k = 10 items');
  const first = await page.$$eval('#rec-table tr:nth-child(2) td', (tds) => tds.map((t) => t.textContent));
  const rec = await api(`/recommend/${USER}?k=10&explain=true`);
  assert.equal(first[1], rec.items[0].title);
  assert.equal(first[2], String(rec.items[0].year));
  assert.equal(first[9], rec.items[0].reason);
  assert.ok(await page.$('#latency-chart'));
  assert.deepEqual(problems, []);
});

test('moving the diversity slider changes the list', async () => {
  await openPage('recommend');
  const beforeList = await listIds('#rec-table tr td:nth-child(2)');
  await page.evaluate(() => { document.body.dataset.ready = 'false'; });
  await page.fill('#lambda-input', '0.9');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60000 });
  const afterList = await listIds('#rec-table tr td:nth-child(2)');
  assert.equal(afterList.length, beforeList.length);
  assert.notDeepEqual(afterList, beforeList, 'λ = 0.9 gave the same list as the bundle default');
  await openPage('diversity');
  await shot('diversity-lambda-0.9');
  assert.match(await page.textContent('#div-right-title'), /0\.90/);
  assert.deepEqual(problems, []);
});

test('an event posted from the Live page reaches the feature store and changes the next list', async () => {
  await openPage('live');
  const beforeList = await listIds('#live-before li');
  const item = await page.inputValue('#live-item');
  assert.ok(item, 'the Live page proposes an item to post');
  const histBefore = await api(`/users/${USER}/history?n=1`);
  await page.click('#live-post');
  await page.waitForSelector('#live-status[data-posted="1"]', { timeout: 60000 });
  const afterList = await listIds('#live-after li');
  assert.notDeepEqual(afterList, beforeList, 'the list did not change after the event');
  const histAfter = await api(`/users/${USER}/history?n=1`);
  assert.equal(histAfter.live_events, histBefore.live_events + 1);
  assert.equal(histAfter.items[0].item_id, item);
  assert.equal(histAfter.items[0].source, 'live');
  await shot('live-after-event');
  assert.deepEqual(problems, []);
});

test('the attention heatmap draws one cell per history item for every item DIN scored', async () => {
  const k = 10;
  const lambda = await page.inputValue('#lambda-input');
  const rec = await api(`/recommend/${USER}?k=${k}&diversity=${lambda}&explain=true`);
  // The bundle's fine-ranker is DIN: the server must say what it attended to.
  assert.ok(rec.attention, 'no "attention" block in /recommend?explain=true although the funnel has DIN');
  assert.equal(rec.attention.ranker, 'din');
  const expected = rec;
  await openPage('attention');
  const H = expected.attention.history.length;
  const scored = expected.items.filter((it) => it.attention).length;
  assert.ok(H > 0 && scored > 0);
  const cells = await page.$$eval('tr.heat-row', (rows) => rows.map((r) => r.querySelectorAll('td.heat-cell').length));
  assert.equal(cells.length, scored);
  for (const c of cells) assert.equal(c, H);
  assert.equal((await page.$$('#attention-table th.col')).length, H);
  await shot('attention');
  assert.deepEqual(problems, []);
});

test('the service page reads the server metrics and shows the reload button (admin enabled)', async () => {
  await openPage('service');
  const stats = await api('/stats');
  assert.equal(stats.admin_reload, true);
  assert.equal(await page.isVisible('#reload-button'), true);
  assert.equal(await page.isVisible('#reload-off'), false);
  // An operator types the token and reloads: the same bundle serves again.
  await page.fill('#admin-token', ADMIN_TOKEN);
  await page.click('#reload-button');
  await page.waitForFunction(() => /now serving/.test(document.querySelector('#reload-status').textContent), null, { timeout: 60000 });
  assert.match(await page.textContent('#reload-status'), new RegExp(`now serving ${stats.bundle_version}`));
  assert.equal(stats.redis.configured, true);
  assert.equal(stats.redis.up, true);
  assert.match(await page.textContent('#service-cards'), /Redis feature store\s*up/);
  assert.deepEqual(problems, []);
});

test('the offline page draws the channel table, fusion drop-one, retention, rankers and the λ Pareto', async () => {
  // The bundle keeps the reports it was built with (run_browser_tests.sh passes --report) and
  // its own λ sweep on validation (offline.rerank_sweep).
  const expected = await api('/offline');
  assert.ok(expected.reports.quality && expected.reports.funnel, 'the bundle should carry reports/quality.json and reports/funnel.json');
  assert.ok(expected.offline.rerank_sweep, 'the bundle should carry its own λ sweep');
  expected.reports.rerank = expected.reports.rerank ?? expected.offline.rerank_sweep;
  await openPage('offline');
  assert.equal(await page.isVisible('#error-bar'), false, await page.textContent('#error-bar'));
  const q = expected.reports.quality.channels;
  const channels = Object.keys(q).filter((n) => !n.startsWith('fusion'));
  assert.equal((await page.$$('#quality-channels tr')).length, 1 + channels.length + (q.fusion ? 1 : 0));
  if (q.fusion?.drop_one)
    assert.equal((await page.$$('#quality-drop-one tr')).length, 1 + Object.keys(q.fusion.drop_one).length);
  assert.equal((await page.$$('#funnel-rankers tr')).length, 1 + Object.keys(expected.reports.funnel.rankers).length);
  assert.equal((await page.$$('#rerank-sweep tr')).length, 1 + expected.reports.rerank.sweep.length);
  assert.ok(await page.$('#retention-chart'));
  // The retention bars in funnel order, whatever order the server's JSON keys arrive in.
  const bars = await page.evaluate(() => state.charts['retention-chart'].data.labels);
  assert.deepEqual(bars, ['recall pool', 'pre-rank', 'fine rank', 'final top 10']);
  assert.ok(await page.$('#rerank-pareto'));
  await shot('offline-reports');
  assert.deepEqual(problems, []);
});
