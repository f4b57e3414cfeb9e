// Loads WPT test pages in headless Chromium and prints their testharness.js results as
// JSON lines: {"url", "status", "message", "tests": [{"name", "status", "message"}]}.
//
//   node driver.mjs --modules DIR --chromium /usr/bin/chromium --jobs 4 URL...
//   (or the URLs on stdin; DIR is a node_modules holding playwright-core)
//
// A page's results are the JSON that WPT's own resources/testharnessreport.js writes into
// <script id="__testharness__results__"> when the harness completes. A page that gives
// none within --timeout seconds is reported with status "TIMEOUT" and no tests. Hosts of
// the form *.localhost and localhost go to 127.0.0.1; certificates are not checked (the
// WPT server's are self-signed). This file knows nothing of wshd.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
};
const modules = option('--modules', 'node_modules');
const { chromium } = createRequire(modules.replace(/\/?$/, '/'))('playwright-core');
const executablePath = option('--chromium', '/usr/bin/chromium');
const jobs = Number(option('--jobs', '4'));
const timeout = Number(option('--timeout', '90')) * 1000;
let urls = args;
if (urls.length === 0) {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim()) urls.push(line.trim());
  }
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--ignore-certificate-errors',
    '--host-resolver-rules=MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1',
  ],
});

async function runOne(url) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  try {
    await page.goto(url, { timeout });
    const handle = await page.waitForSelector('#__testharness__results__',
      { state: 'attached', timeout });
    const data = JSON.parse(await handle.textContent());
    return {
      url, status: data.status, message: data.message,
      tests: data.tests.map((t) => ({ name: t.name, status: t.status, message: t.message })),
    };
  } catch (e) {
    return { url, status: 'TIMEOUT', message: String(e).split('\n')[0], tests: [] };
  } finally {
    await context.close();
  }
}

let next = 0;
async function worker() {
  while (next < urls.length) {
    const url = urls[next++];
    process.stdout.write(JSON.stringify(await runOne(url)) + '\n');
  }
}
await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
await browser.close();
