// Keeps the dashboard's Service page open (polling /stats every 2 s) for SECONDS seconds: run
// it next to a load generator to see what an open dashboard costs /recommend.
//   node tests/browser/hold_service_page.mjs http://127.0.0.1:PORT 20
import fs from 'node:fs';
import { chromium } from 'playwright-core';

const [base, seconds = '20'] = process.argv.slice(2);
const profile = fs.mkdtempSync('/tmp/cascade-hold-');
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const page = ctx.pages()[0] || await ctx.newPage();
await page.goto(`${base}/#service`);
await page.waitForSelector('body[data-ready="true"]');
await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
await ctx.close();
fs.rmSync(profile, { recursive: true, force: true });
