// Drives Debian's chromium (playwright-core, over CDP) and firefox-esr (puppeteer-core,
// over WebDriver BiDi) headless against wshd's console page: for each browser and each of
// ws and wss, it opens examples/console.html, adds checks.js and prints one line per
// check, then runs examples/bench.html once. Exit status 1 if any check failed or a
// browser could not run.
//
//   node drive.mjs HTTP_ORIGIN HTTPS_ORIGIN SCREENSHOT
//
// HTTP_ORIGIN / HTTPS_ORIGIN: wshd serving the repository as its document root, plain and
// with TLS (a generated certificate the browsers are told to accept). SCREENSHOT: where
// the console page is saved after chromium's ws run.
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "playwright-core";
import puppeteer from "puppeteer-core";

const [httpOrigin, httpsOrigin, screenshot] = process.argv.slice(2);
if (!screenshot) {
  console.error("usage: node drive.mjs HTTP_ORIGIN HTTPS_ORIGIN SCREENSHOT");
  process.exit(2);
}
const checks = path.join(path.dirname(fileURLToPath(import.meta.url)), "checks.js");
const CHROMIUM = process.env.WSHD_CHROMIUM || "/usr/bin/chromium";
const FIREFOX = process.env.WSHD_FIREFOX || "/usr/bin/firefox-esr";

/** Runs the checks on `page` for each origin; returns the number of failures. */
async function runChecks(browser, page, takeScreenshot) {
  let failed = 0;
  for (const [scheme, origin] of [["ws", httpOrigin], ["wss", httpsOrigin]]) {
    await page.goto(`${origin}/examples/console.html`);
    await page.addScriptTag({ path: checks });
    const base = origin.replace(/^http/, "ws");
    const results = await page.evaluate((b) => window.wshdChecks(b), base);
    for (const r of results) {
      console.log(`${browser} ${scheme}: ${r.ok ? "ok" : "FAILED"}: ${r.name} (${r.detail})`);
      if (!r.ok) failed += 1;
    }
    if (scheme === "ws" && takeScreenshot) {
      await page.screenshot({ path: screenshot, fullPage: true });
    }
    // The benchmark page runs to the end; its figure is printed, not judged.
    await page.goto(`${origin}/examples/bench.html`);
    try {
      const r = await page.evaluate((b) => window.wshdBench.run(`${b}/echo`, 10000, 20, 16, true), base);
      console.log(`${browser} ${scheme}: ok: benchmark page (${r.messages} messages of 20 B, ` +
                  `16 in flight: ${Math.round(r.perSecond)} messages per second)`);
    } catch (e) {
      console.log(`${browser} ${scheme}: FAILED: benchmark page (${e.message})`);
      failed += 1;
    }
  }
  return failed;
}

async function withChromium() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--ignore-certificate-errors"],
  });
  try {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 900, height: 700 },
    });
    const page = await context.newPage();
    console.log(`chromium: ${browser.version()}`);
    return await runChecks("chromium", page, true);
  } finally {
    await browser.close();
  }
}

async function withFirefox() {
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    acceptInsecureCerts: true,
    protocol: "webDriverBiDi",
  });
  try {
    const page = await browser.newPage();
    console.log(`firefox: ${await browser.version()}`);
    return await runChecks("firefox", page, false);
  } finally {
    await browser.close();
  }
}

let failures = 0;
for (const [name, run] of [["chromium", withChromium], ["firefox", withFirefox]]) {
  try {
    failures += await run();
  } catch (e) {
    console.log(`${name}: FAILED: the browser could not run the checks: ${e.stack || e}`);
    failures += 1;
  }
}
process.exit(failures ? 1 : 0);
