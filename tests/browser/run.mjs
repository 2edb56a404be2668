// paydown's pages in a real browser (issue 19).
//
// Starts `paydown demo` on a fresh SQLite database and a free port, then drives Debian's
// Chromium through playwright-core (no browser download, no network): an engineer signs in,
// logs a response through the form and sees it priced in their statement; a manager changes
// the range and the team and sees the figures change, and only their teams; finance opens the
// periods. Every page is checked with axe-core (no serious or critical violation) and
// screenshotted at 1280 px and 390 px into target/browser-artifacts/.
//
// Environment: PAYDOWN_BIN (default target/debug/paydown), CHROMIUM (default /usr/bin/chromium),
// PAYDOWN_ARTIFACTS (default target/browser-artifacts).

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const BIN = process.env.PAYDOWN_BIN || path.join(root, 'target', 'debug', 'paydown');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.PAYDOWN_ARTIFACTS || path.join(root, 'target', 'browser-artifacts');
const WIDTHS = [1280, 390];
const started = Date.now();

let failures = 0;
function check(condition, message) {
  if (condition) {
    console.log(`  ok   ${message}`);
  } else {
    failures += 1;
    console.log(`  FAIL ${message}`);
  }
}

/** Starts `paydown demo`, resolving once it listens, with its address and demo tokens. */
function startServer(work) {
  const child = spawn(BIN, ['demo', '--listen', '127.0.0.1:0', '--database-url', path.join(work, 'demo.db'), '--workers', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`paydown did not start in 60 s:\n${output}`)), 60_000);
    const read = (chunk) => {
      output += chunk;
      const address = output.match(/paydown listening on (http:\/\/\S+)/);
      const tokens = {};
      for (const [, role, secret] of output.matchAll(/^\s+(admin|finance|manager|engineer|ingest)\s.*?(pdt_\S+)\s*$/gm)) {
        tokens[role] = secret;
      }
      if (address && tokens.engineer && tokens.manager && tokens.finance && tokens.admin) {
        clearTimeout(timer);
        resolve({ child, base: address[1], tokens });
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`paydown exited (${code}):\n${output}`)); });
  });
}

/** Runs axe-core on the page; fails on any serious or critical violation. */
async function axeCheck(page, name) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((violation) => ['serious', 'critical'].includes(violation.impact));
  for (const violation of bad) {
    console.log(`       ${violation.id} (${violation.impact}): ${violation.help}; ${violation.nodes.slice(0, 3).map((node) => node.target.join(' ')).join(' | ')}`);
  }
  check(bad.length === 0, `${name}: no serious or critical accessibility violation (axe-core, ${result.violations.length} minor)`);
}

/** Screenshots at each width; checks nothing overflows the 390 px screen sideways. */
async function shoot(page, name) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    const file = path.join(ARTIFACTS, `${name}-${width}.png`);
    await page.screenshot({ path: file, fullPage: true });
    await page.screenshot({ path: file.replace('.png', '-top.png') });
    if (width === 390) {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 1, `${name}: fits a 390 px screen (overflow ${overflow} px)`);
      const smallest = await page.evaluate(() => {
        let min = Infinity;
        for (const text of document.querySelectorAll('svg text')) {
          const size = text.getBoundingClientRect().height;
          if (size > 0 && text.textContent.trim()) min = Math.min(min, size);
        }
        return min === Infinity ? null : min;
      });
      if (smallest !== null) check(smallest >= 10, `${name}: chart text is readable at 390 px (smallest ${smallest.toFixed(1)} px)`);
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function signIn(page, base, token) {
  await page.context().clearCookies();
  await page.goto(`${base}/login`);
  await page.getByLabel('Your paydown token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState('domcontentloaded');
}

async function headline(page) {
  return (await page.locator('.headline .figure').allTextContents()).join(' | ');
}

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const work = mkdtempSync(path.join(tmpdir(), 'paydown-browser-'));
  const { child, base, tokens } = await startServer(work);
  console.log(`paydown demo at ${base} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  const context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  // Nothing but paydown itself is fetched.
  await context.route((url) => !url.href.startsWith(base), (route) => route.abort());
  const page = context.pages()[0] || await context.newPage();
  try {
    console.log('sign-in');
    await page.goto(`${base}/login`);
    await axeCheck(page, 'login');
    await shoot(page, 'login');
    await page.getByLabel('Your paydown token').fill('pdt_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    check(await page.getByRole('alert').textContent().then((text) => text.includes('not valid')), 'a wrong token is told in the page, not raw JSON');
    const docs = await page.goto(`${base}/docs`);
    check(docs.url().endsWith('/docs/'), '/docs goes to /docs/');

    console.log('engineer');
    await signIn(page, base, tokens.engineer);
    check(new URL(page.url()).pathname === '/', 'an engineer lands on their own page');
    check((await page.locator('h1').textContent()).includes('your pages and pay'), 'their page says whose it is');
    await axeCheck(page, 'engineer home');
    await shoot(page, 'engineer-home');
    const card = page.locator('article.card', { has: page.locator('form[action$="/respond"]') }).first();
    const cardId = await card.getAttribute('id');
    await card.locator('summary', { hasText: 'Log my response' }).click();
    const form = card.locator('form[action$="/respond"]');
    const startedValue = await form.locator('input[name="started_at"]').inputValue();
    check(/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(startedValue), `the form is prefilled from the page (${startedValue})`);
    // A mistake first: the end before the start comes back beside the field.
    await form.locator('input[name="ended_at"]').fill('2020-01-01T00:00');
    await form.getByLabel('no', { exact: true }).check();
    await form.getByRole('button', { name: 'Log response' }).click();
    await page.waitForLoadState('domcontentloaded');
    const error = page.locator(`#${cardId} .field-error`);
    check(await error.count() === 1 && (await error.textContent()).includes('started_at'), 'a refused form shows its message beside the field');
    await axeCheck(page, 'engineer home with a refused form');
    const refused = page.locator(`#${cardId} form[action$="/respond"]`);
    const [date, time] = startedValue.split('T');
    const [hours, minutes] = time.split(':').map(Number);
    const endMinutes = Math.min(hours * 60 + minutes + 37, 23 * 60 + 59);
    const ended = `${date}T${String(Math.floor(endMinutes / 60)).padStart(2, '0')}:${String(endMinutes % 60).padStart(2, '0')}`;
    await refused.locator('input[name="ended_at"]').fill(ended);
    await refused.getByRole('button', { name: 'Log response' }).click();
    await page.waitForLoadState('domcontentloaded');
    check(new URL(page.url()).searchParams.get('done') === 'logged', 'logging answers 303 to the page');
    check(await page.getByRole('status').textContent().then((text) => text.includes('logged')), 'the page says it is logged');
    // The worker prices what the journal names within ~50 ms: poll the statement of its period.
    const whenShown = (await page.locator(`#${cardId} p`).allTextContents()).join(' ');
    let priced = false;
    for (let attempt = 0; attempt < 40 && !priced; attempt += 1) {
      const rows = await page.locator('#statement-title ~ div table tbody tr').allTextContents();
      priced = rows.some((row) => row.includes('response') && row.includes(`${date} ${time}`));
      if (!priced) {
        await page.waitForTimeout(250);
        await page.reload();
      }
    }
    check(priced, `the response is priced in the statement (${whenShown.slice(0, 80)}…)`);
    await shoot(page, 'engineer-statement');

    console.log('manager');
    const admin = tokens.admin;
    const made = await page.request.post(`${base}/v1/tokens`, {
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      data: { name: 'browser manager', role: 'manager', teams: ['payments', 'search'] },
    });
    const manager = (await made.json()).secret;
    check(made.status() === 201 && typeof manager === 'string', 'a manager of payments and search');
    await signIn(page, base, manager);
    check(new URL(page.url()).pathname === '/dashboard', 'a manager lands on the dashboard');
    const teams = await page.locator('#team option').allTextContents();
    check(JSON.stringify(teams) === JSON.stringify(['All your teams', 'payments', 'search']), `only their teams to choose (${teams.join(', ')})`);
    const costTable = async () => page.locator('#cost-by-team table').first().locator('tbody th').allTextContents();
    const shown = await costTable();
    check(shown.every((team) => ['payments', 'search'].includes(team)), `only their teams' costs (${shown.join(', ')})`);
    await axeCheck(page, 'dashboard');
    await shoot(page, 'dashboard');
    const wide = await headline(page);
    await page.locator('#from').fill('2026-10-01');
    await page.locator('#to').fill('2026-11-01');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForLoadState('domcontentloaded');
    const october = await headline(page);
    check(page.url().includes('from=2026-10-01') && october !== wide, `the range changes the figures (${wide} → ${october})`);
    await page.locator('#team').selectOption('search');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForLoadState('domcontentloaded');
    const search = await headline(page);
    check(page.url().includes('team=search') && search !== october, `the team changes the figures (${october} → ${search})`);
    check((await costTable()).every((team) => team === 'search'), 'the team view shows that team only');
    await shoot(page, 'dashboard-search');
    const bogus = await page.goto(`${base}/dashboard?group_by=bogus`);
    check(bogus.status() === 400 && (await page.locator('code').textContent()) === 'group_by', '?group_by=bogus is a 400 page naming the parameter');
    await page.goto(`${base}/dashboard?from=2026-08-01&to=2026-11-03`);
    const alertLink = page.locator('#top-alerts table tbody th a').first();
    const alertName = await alertLink.textContent();
    await alertLink.click();
    await page.waitForLoadState('domcontentloaded');
    check((await page.locator('h1').textContent()).includes(alertName), `an alert has its own page (${alertName})`);
    await axeCheck(page, 'alert page');
    await shoot(page, 'alert');

    console.log('finance');
    await signIn(page, base, tokens.finance);
    check(new URL(page.url()).pathname === '/periods', 'finance lands on the pay periods');
    check(await page.locator('a[href*="/payroll?layout=long&format=csv"]').count() > 0, 'the periods link their payroll files');
    await axeCheck(page, 'periods');
    await shoot(page, 'periods');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForLoadState('domcontentloaded');
    check(new URL(page.url()).pathname === '/login', 'signing out returns to the sign-in page');
  } finally {
    await context.close();
    child.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  writeFileSync(path.join(ARTIFACTS, 'result.txt'), `${failures} failure(s) in ${seconds} s\n`);
  console.log(`${failures} failure(s) in ${seconds} s; screenshots in ${ARTIFACTS}`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
