// The browser driver: launches Chromium with playwright-core and runs the
// commands a Go test sends, one JSON object a line on stdin, answering each
// with one JSON object a line on stdout, matched by id. Commands run
// concurrently; each has its own timeout. Anything else this process prints
// goes to stderr, which the Go side keeps in a log file.
//
// Environment: SLUICE_PLAYWRIGHT_CORE (the playwright-core module directory),
// SLUICE_CHROMIUM (the executable), SLUICE_CHROMIUM_ARGS (a JSON array).
'use strict';

const readline = require('readline');
const { chromium } = require(process.env.SLUICE_PLAYWRIGHT_CORE);
const playwrightVersion = require(process.env.SLUICE_PLAYWRIGHT_CORE + '/package.json').version;

// stdout carries the protocol only.
const protocolOut = process.stdout;
for (const level of ['log', 'info', 'warn', 'debug']) {
  console[level] = (...args) => process.stderr.write(args.join(' ') + '\n');
}
function send(msg) {
  protocolOut.write(JSON.stringify(msg) + '\n');
}

let browser;
const pages = new Map(); // id -> { context, page, log }
let nextPage = 0;
let closing = false;

const maxLog = 200;
function record(entry, line) {
  entry.log.push(new Date().toISOString().slice(11, 23) + ' ' + line);
  if (entry.log.length > maxLog) entry.log.shift();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const ops = {
  async newPage() {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 800 },
    });
    const page = await context.newPage();
    const id = 'p' + ++nextPage;
    const entry = { context, page, log: [] };
    page.on('console', (m) => record(entry, `console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => record(entry, `pageerror: ${e.message}`));
    page.on('requestfailed', (r) => {
      const why = r.failure() ? r.failure().errorText : '';
      // A stream the page closes on navigation is no failure worth noting.
      if (why !== 'net::ERR_ABORTED') record(entry, `requestfailed: ${r.method()} ${r.url()}: ${why}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) record(entry, `http ${r.status()}: ${r.request().method()} ${r.url()}`);
    });
    page.on('dialog', async (d) => {
      record(entry, `dialog ${d.type()}: ${d.message()} (accepted)`);
      await d.accept().catch(() => {});
    });
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) record(entry, `navigated: ${f.url()}`);
    });
    pages.set(id, entry);
    return { page: id };
  },

  async closePage(p, a, timeout, entry, id) {
    pages.delete(id);
    await entry.context.close();
  },

  async goto(p, a, timeout) {
    const resp = await p.goto(a.url, { timeout, waitUntil: 'load' });
    return { status: resp ? resp.status() : 0 };
  },

  url(p) {
    return p.url();
  },

  async fill(p, a, timeout) {
    await p.locator(a.selector).fill(a.value, { timeout });
  },

  async selectOption(p, a, timeout) {
    await p.locator(a.selector).selectOption(a.value, { timeout });
  },

  async press(p, a, timeout) {
    await p.locator(a.selector).press(a.key, { timeout });
  },

  async click(p, a, timeout) {
    await p.locator(a.selector).click({ timeout });
  },

  async waitFor(p, a, timeout) {
    await p.locator(a.selector).first().waitFor({ state: a.state || 'visible', timeout });
  },

  // waitText waits until an element matching the selector has innerText
  // containing the text.
  async waitText(p, a, timeout) {
    const deadline = Date.now() + timeout;
    const loc = p.locator(a.selector);
    let seen = [];
    for (;;) {
      seen = await loc.allInnerTexts();
      if (seen.some((t) => t.includes(a.text))) return;
      if (Date.now() >= deadline) break;
      await sleep(50);
    }
    throw new Error(
      `timeout ${timeout}ms waiting for ${JSON.stringify(a.selector)} to contain ${JSON.stringify(a.text)}; ` +
        (seen.length ? `it holds ${JSON.stringify(seen.slice(0, 5))}` : 'no element matches'),
    );
  },

  async waitURL(p, a, timeout) {
    await p.waitForURL((u) => u.href.startsWith(a.prefix), { timeout, waitUntil: 'load' });
  },

  async text(p, a, timeout) {
    return await p.locator(a.selector).innerText({ timeout });
  },

  async count(p, a) {
    return await p.locator(a.selector).count();
  },

  async html(p) {
    return await p.content();
  },

  // eval evaluates an expression in the page; a function is called, a
  // promise awaited. The wrapper is source, not a function, so that it runs
  // through the DevTools protocol, where the page's CSP does not apply.
  async eval(p, a) {
    const v = await p.evaluate(
      `(async () => { const v = (${a.js}\n); return typeof v === 'function' ? await v() : await v; })()`,
    );
    return v === undefined ? null : v;
  },

  async screenshot(p, a, timeout) {
    await p.screenshot({ path: a.path, fullPage: true, timeout });
    return a.path;
  },

  log(p, a, timeout, entry) {
    return entry.log.slice();
  },
};

async function handle(req) {
  const entry = req.page ? pages.get(req.page) : undefined;
  const reply = { id: req.id };
  try {
    if (req.op === 'newPage') {
      reply.result = await ops.newPage();
    } else if (req.op === 'close') {
      await shutdown(0, req.id);
      return;
    } else {
      const op = ops[req.op];
      if (!op) throw new Error(`unknown operation ${req.op}`);
      if (!entry) throw new Error(`no page ${req.page} (closed?)`);
      const r = await op(entry.page, req.args || {}, req.timeout || 15000, entry, req.page);
      reply.result = r === undefined ? null : r;
    }
    reply.ok = true;
  } catch (e) {
    reply.ok = false;
    reply.error = String((e && e.message) || e).replace(/\x1b\[[0-9;]*m/g, '');
    if (entry && !entry.page.isClosed()) reply.url = entry.page.url();
  }
  send(reply);
}

async function shutdown(code, id) {
  if (closing) return;
  closing = true;
  try {
    if (browser) await browser.close();
  } catch (e) {
    process.stderr.write(`close browser: ${e}\n`);
  }
  if (id !== undefined) send({ id, ok: true, result: null });
  protocolOut.write('', () => process.exit(code));
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.SLUICE_CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: JSON.parse(process.env.SLUICE_CHROMIUM_ARGS || '[]'),
    timeout: 60000,
  });
  browser.on('disconnected', () => {
    if (!closing) {
      process.stderr.write('chromium disconnected\n');
      send({ event: 'disconnected' });
      process.exit(3);
    }
  });
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      process.stderr.write(`bad request ${line}: ${e}\n`);
      return;
    }
    handle(req);
  });
  // The Go side is gone (or done): close Chromium and go.
  rl.on('close', () => shutdown(0));
  send({ ready: true, browser: browser.version(), playwright: playwrightVersion });
}

main().catch((e) => {
  process.stderr.write(`driver: ${(e && e.stack) || e}\n`);
  send({ ready: false, error: String((e && e.message) || e) });
  process.exit(2);
});
