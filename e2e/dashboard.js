// Browser tests of the phoneboot dashboard: Debian's chromium, driven by
// playwright-core, against a `phoneboot serve` that e2e_test.go started
// and fed with simulated phones. Run by `go test ./e2e` (which passes the
// addresses below in the environment); each scenario saves a screenshot
// (1280×800) to docs/screenshots/.
//
// Environment: BASE_URL (the admin server), PHONEBOOT (the binary),
// DATA (its data directory), TFTP (host:port), FIRMWARE_ZIP (a synthetic
// package), REFUSAL (what serve said for a public bind without a token),
// SHOTS (screenshot directory), CHROMIUM (the browser).
"use strict";
const { chromium } = require("playwright-core");
const { execFile } = require("node:child_process");
const path = require("node:path");

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set (run this through go test ./e2e)`);
  return process.env[k];
};
const BASE = env("BASE_URL");
const SHOTS = env("SHOTS");
const STEP = 15000; // every wait is bounded

function sim(mac, local, extra = []) {
  return new Promise((resolve) => {
    execFile(env("PHONEBOOT"), ["sim", "--data", env("DATA"), "--server", env("TFTP"), "--model", "7960",
      "--mac", mac, "--local", local, "--timeout", "30s", ...extra], { timeout: 60000 },
      (err, stdout, stderr) => resolve({ err, stdout, stderr }));
  });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name + ".png") });
}

const scenarios = [];
// allow: console errors the scenario expects (a 422 answer is the point
// of a bad edit; the browser logs every 4xx document).
const scenario = (name, fn, allow) => scenarios.push({ name, fn, allow });

scenario("fleet page", async (page) => {
  await page.goto(BASE + "/");
  await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: STEP });
  await page.locator("svg.chart").waitFor({ timeout: STEP });
  await page.getByText("Needs attention").waitFor({ timeout: STEP });
  await shot(page, "fleet");
});

scenario("phones table updates while a phone boots", async (page) => {
  await page.goto(BASE + "/phones");
  await page.locator("#live-status.on").waitFor({ timeout: STEP });
  // A marker the page keeps only if it is not reloaded.
  await page.evaluate(() => { window.notReloaded = true; });
  const row = page.locator('tr[data-mac="00:13:7f:00:00:77"]');
  if (await row.count() !== 0) throw new Error("the new phone is in the table before it booted");
  const booting = sim("00:13:7F:00:00:77", "127.0.0.77");
  await row.waitFor({ timeout: STEP });
  await booting;
  await page.locator('tr[data-mac="00:13:7f:00:00:77"] td.state', { hasText: "up to date" }).waitFor({ timeout: STEP });
  if (!(await page.evaluate(() => window.notReloaded))) throw new Error("the page reloaded instead of updating");
  // Search, server-side, as one types.
  await page.fill('input[name="q"]', "lobby");
  await page.locator("#phones-count", { hasText: "1 of" }).waitFor({ timeout: STEP });
  // The search is in the address: a link, a reload and Back show it.
  await page.waitForURL(/\/phones\?q=lobby/, { timeout: STEP });
  await page.click('a[href="/phones/00:13:7f:00:00:03"]');
  await page.waitForURL(/\/phones\/00:13:7f:00:00:03$/, { timeout: STEP });
  await page.goBack();
  await page.locator("#phones-count", { hasText: "1 of" }).waitFor({ timeout: STEP });
  await page.locator("header.top nav").waitFor({ timeout: STEP });
  if (await page.locator("header.top").count() !== 1) throw new Error("Back drew the page inside itself");
  await page.fill('input[name="q"]', "");
  await page.waitForFunction(() => /^(\d+) of \1 phones match/.test(document.querySelector("#phones-count").textContent),
    null, { timeout: STEP });
  await shot(page, "phones");
});

scenario("click through to a phone and see its timeline", async (page) => {
  await page.goto(BASE + "/phones?sort=label");
  await page.click('a[href="/phones/00:13:7f:38:b3:de"]');
  await page.waitForURL(/\/phones\/00:13:7f:38:b3:de$/, { timeout: STEP });
  await page.locator("svg.timeline rect.ev").first().waitFor({ timeout: STEP });
  const files = await page.locator("svg.timeline rect.ev title").allTextContents();
  if (!files.some((t) => t.includes("SEP00137F38B3DE.cnf.xml"))) throw new Error("the timeline lacks the config file: " + files.join(" | "));
  await page.locator("#recover").waitFor({ timeout: STEP });
  await shot(page, "phone");
});

scenario("edit an inventory entry with a mistake and see the error", async (page) => {
  await page.goto(BASE + "/phones/00:13:7f:38:b3:de");
  const area = page.locator('textarea[name="entry"]');
  const text = await area.inputValue();
  if (text.includes("s3cret")) throw new Error("the editor shows the SIP password");
  await area.fill(text.replace(/model = "7960"/, 'model = "7960"\nprotocol = "H323"'));
  await page.click('#entry button[type="submit"]');
  await page.locator("#entry-errors", { hasText: "entry line" }).waitFor({ timeout: STEP });
  await page.locator("#entry-errors").scrollIntoViewIfNeeded();
  await shot(page, "inventory-error");
}, /status of 422/);

scenario("import firmware by upload", async (page) => {
  await page.goto(BASE + "/firmware");
  await page.setInputFiles('input[name="package"]', env("FIRMWARE_ZIP"));
  await page.click('form.upload button[type="submit"]');
  await page.locator("#import-result", { hasText: "Added" }).waitFor({ timeout: STEP });
  await page.locator("#import-result", { hasText: "P0S3-8-11-00" }).waitFor({ timeout: STEP });
  await page.locator("table.loads", { hasText: "P0S3-8-11-00" }).waitFor({ timeout: STEP });
  await shot(page, "firmware");
});

scenario("with a token: log in, then show the passwords", async (page) => {
  const base = env("TOKEN_URL");
  await page.goto(base + "/phones/00:13:7f:38:b3:de");
  await page.waitForURL(/\/login\?next=/, { timeout: STEP });
  await page.fill('input[name="token"]', "not-the-token-at-all");
  await page.click('form.login button[type="submit"]');
  await page.locator(".problem", { hasText: "not this phoneboot" }).waitFor({ timeout: STEP });
  await page.fill('input[name="token"]', env("TOKEN"));
  await shot(page, "login");
  await page.click('form.login button[type="submit"]');
  await page.waitForURL(/\/phones\/00:13:7f:38:b3:de$/, { timeout: STEP });
  const masked = await page.locator("#files").textContent();
  if (masked.includes("s3cret-201")) throw new Error("the password shows before it is asked for");
  await page.click('#files button[type="submit"]');
  await page.locator("#files pre", { hasText: "s3cret-201" }).first().waitFor({ timeout: STEP });
  // The session cookie is not readable by scripts.
  if ((await page.evaluate(() => document.cookie)).includes("phoneboot_session")) throw new Error("the session cookie is readable by scripts");
}, /status of 401/);

scenario("a public bind without a token refuses to start", async (page) => {
  // What serve printed, shown as the terminal shows it.
  const said = env("REFUSAL");
  if (!said.includes("--admin-token")) throw new Error("serve did not say what to do: " + said);
  await page.setContent(`<!doctype html><body style="margin:0;background:#1d232b;color:#e8edf2;font:15px/1.5 monospace;padding:24px">
    <div style="color:#9fb3c8">$ phoneboot serve --admin-addr 0.0.0.0:8069</div><pre id="out" style="white-space:pre-wrap"></pre></body>`);
  await page.locator("#out").evaluate((el, t) => { el.textContent = t; }, said);
  await shot(page, "refuse-public-bind");
}, /./);

(async () => {
  const args = ["--disable-gpu", "--disable-dev-shm-usage"];
  // Chromium's sandbox cannot start as root (CI runs as root): only then
  // without it. The pages are our own, served on loopback.
  if (process.getuid && process.getuid() === 0) args.push("--no-sandbox");
  const browser = await chromium.launch({ executablePath: env("CHROMIUM"), headless: true, args, timeout: 30000 });
  let failed = 0;
  try {
    for (const s of scenarios) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const problems = [];
      // A CSP violation or a script error is a failure.
      page.on("console", (m) => {
        if (m.type() === "error" && !(s.allow && s.allow.test(m.text()))) problems.push("console: " + m.text());
      });
      page.on("pageerror", (e) => problems.push("page error: " + e.message));
      const t0 = Date.now();
      try {
        await s.fn(page);
        if (problems.length) throw new Error(problems.join("\n"));
        console.log(`ok   ${s.name} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed++;
        console.log(`FAIL ${s.name}: ${e.message}`);
        const at = path.join(require("node:os").tmpdir(), "phoneboot-e2e-failure.png");
        await page.screenshot({ path: at }).then(() => console.log("     the page then: " + at)).catch(() => {});
      }
      await context.close();
    }
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.log("FAIL " + e.stack); process.exit(1); });
