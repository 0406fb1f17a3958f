// The supervisor's day in headless Chromium, driven by playwright-core (tests/browser.rs starts
// the server and prepares the conflict and the leave request; see there).
//
// Each step prints "ok <name>" or "FAILED <name>: why"; the last line is "N passed, N failed"
// and the exit code is non-zero on any failure. Screenshots go to $KEFU_ARTIFACTS.

import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const BASE = env('KEFU_URL');
const ARTIFACTS = env('KEFU_ARTIFACTS');
mkdirSync(ARTIFACTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const context = await browser.newContext({ acceptDownloads: true, locale: 'zh-CN', viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);

// Every response of the server is checked: a 500 is a failure wherever it happens.
const serverErrors = [];
page.on('response', (r) => {
  if (r.url().startsWith(BASE) && r.status() >= 500) serverErrors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
});

let passed = 0;
let failed = 0;
async function step(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAILED ${name}: ${e && e.stack ? e.stack : e}`);
    try { await page.screenshot({ path: join(ARTIFACTS, `FAILED-${name}.png`), fullPage: true }); } catch {}
  }
}
function check(cond, what) {
  if (!cond) throw new Error(what);
}
async function shot(name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
async function flashOk() {
  const ok = page.locator('.flash.ok');
  const err = page.locator('.flash.err');
  if (await err.count()) throw new Error(`error shown: ${await err.first().innerText()}`);
  check(await ok.count() > 0, 'no success message on the page');
}

await step('sign-in', async () => {
  await page.goto(`${BASE}/customers`);
  check(page.url().includes('/login'), 'an anonymous visit goes to the sign-in page');
  await page.fill('input[name=username]', env('KEFU_USER'));
  await page.fill('input[name=password]', 'wrong password');
  await page.click('button[type=submit]');
  check(await page.locator('.flash.err').count() === 1, 'a wrong password shows a message');
  await page.fill('input[name=username]', env('KEFU_USER'));
  await page.fill('input[name=password]', env('KEFU_PASSWORD'));
  await page.click('button[type=submit]');
  await page.waitForURL(`${BASE}/customers`);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'kefu_session');
  check(session && session.httpOnly && session.sameSite === 'Strict', 'the session cookie is HttpOnly and SameSite=Strict');
  await page.goto(`${BASE}/`);
  await shot('overview');
});

await step('find-customer-by-two-chinese-characters', async () => {
  const fragment = env('KEFU_SEARCH_FRAGMENT');
  check([...fragment].length === 2, 'the fragment has two characters');
  await page.goto(`${BASE}/customers`);
  await page.fill('input[name=q]', fragment);
  await page.click('form.bar button[type=submit]');
  await page.waitForLoadState();
  const link = page.locator('table a', { hasText: env('KEFU_SEARCH_NAME') }).first();
  check(await link.count() === 1, `${env('KEFU_SEARCH_NAME')} is found by ${fragment}`);
  await shot('customer-search');
  await link.click();
  await page.waitForLoadState();
  check((await page.locator('h1').innerText()).includes(env('KEFU_SEARCH_NAME')), 'the customer file opens');
  await page.click('a[href$="/history"]');
  await page.waitForLoadState();
  check(await page.locator('table tbody tr').count() > 0, 'the file has a history of changes');
  await shot('customer-history');
});

await step('switch-language', async () => {
  await page.goto(`${BASE}/customers`);
  await page.click('a[href^="/lang/en"]');
  await page.waitForLoadState();
  check((await page.locator('h1').innerText()).includes('Customers'), 'English after switching');
  await page.click('a[href^="/lang/zh"]');
  await page.waitForLoadState();
  check((await page.locator('h1').innerText()).includes('客户'), 'Chinese after switching back');
});

await step('settle-a-conflict-made-by-two-phones', async () => {
  const doc = env('KEFU_CONFLICT_DOC');
  const choice = env('KEFU_CONFLICT_CHOICE');
  await page.goto(`${BASE}/review`);
  const card = page.locator('div.card.conflict', { has: page.locator(`a[href$="${doc}/history"]`) });
  check(await card.count() === 1, 'the conflict is listed once');
  const rows = card.locator('tr', { hasText: choice });
  check(await rows.count() === 1, 'the field staff member\'s value is offered');
  check(await card.locator('tr').count() >= 3, 'both values are shown');
  await shot('review-conflict');
  await rows.locator('button[type=submit]').click();
  await page.waitForLoadState();
  await flashOk();
  check(await page.locator('div.card.conflict', { has: page.locator(`a[href$="${doc}/history"]`) }).count() === 0, 'the conflict left the queue');
  await page.goto(`${BASE}/customers/${doc}`);
  check((await page.locator('main').innerText()).includes(choice), 'the customer file shows the chosen address');
});

await step('approve-three-day-leave-through-the-chain', async () => {
  const leave = env('KEFU_LEAVE_ID');
  await page.goto(`${BASE}/attendance/requests`);
  await shot('leave-requests');
  await page.locator(`a[href$="/${leave}"]`).first().click();
  await page.waitForLoadState();
  // Out of turn first: the general manager cannot answer before the manager.
  await page.selectOption('select[name=step]', 'general_manager');
  await page.click('button[name=decision][value=approve]');
  await page.waitForLoadState();
  check(await page.locator('.flash.err').count() === 1, 'an answer out of turn is refused with a message');
  for (const step of ['manager', 'hr', 'general_manager']) {
    await page.selectOption('select[name=step]', step);
    await page.fill('textarea[name=note]', `同意（${step}）`);
    await page.click('button[name=decision][value=approve]');
    await page.waitForLoadState();
    await flashOk();
  }
  check(await page.locator('select[name=step]').count() === 0, 'no decision is left to record');
  await shot('leave-approved');
});

await step('kpi-report-and-export', async () => {
  await page.goto(`${BASE}/kpi`);
  check(await page.locator('table tbody tr').count() > 0, 'the team ranking lists people');
  await shot('kpi-team');
  const excel = async (what) => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('a.export[href*="format=xlsx"]').first().click(),
    ]);
    const file = join(ARTIFACTS, `${what}.xlsx`);
    await download.saveAs(file);
    const head = readFileSync(file).subarray(0, 2).toString('latin1');
    check(head === 'PK', `${what}: an Excel file (zip) was downloaded`);
  };
  await excel('kpi-team');
  await page.locator('table tbody tr a[href^="/kpi/"]').first().click();
  await page.waitForLoadState();
  check(page.url().includes('/kpi/'), 'a person\'s report opens');
  await shot('kpi-person');
  await excel('kpi-person');
  const [csv] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('a.export[href*="format=csv"]').first().click(),
  ]);
  const text = readFileSync(await csv.path()).toString('utf8');
  check(text.charCodeAt(0) === 0xfeff && text.split('\n').length > 2, 'a CSV with a byte-order mark and rows');
});

// SCENARIOS

// Every POST form on the supervisor's pages, submitted with its fields emptied (numbers made
// non-numeric): the answer is a page with a message, never a server error.
await step('bad-input-on-every-form', async () => {
  const pages = ['/review', '/assign', '/campaigns/new', '/visits', '/complaints', '/appearance',
    '/appearance/template', '/attendance', '/attendance/roster', '/attendance/requests', '/kpi/weights'];
  let tried = 0;
  for (const path of pages) {
    await page.goto(`${BASE}${path}`);
    // One form per distinct action (a board has one review form per visit, all alike).
    const actions = await page.evaluate(() => [...document.querySelectorAll('main form[method=post]')].map((f) => f.getAttribute('action')));
    const firsts = [...new Set(actions)].map((a) => actions.indexOf(a));
    for (const i of firsts) {
      await page.goto(`${BASE}${path}`);
      const before = serverErrors.length;
      const navigated = page.waitForNavigation({ waitUntil: 'load' });
      const submitted = await page.evaluate((i) => {
        const form = document.querySelectorAll('main form[method=post]')[i];
        if (!form) return false;
        for (const el of form.querySelectorAll('input, textarea, select')) {
          el.removeAttribute('required');
          if (el.type === 'hidden' && el.name.startsWith('_')) continue;
          if (el.type === 'hidden') { el.value = 'no-such-thing'; continue; }
          if (el.tagName === 'SELECT') continue;
          if (el.type === 'checkbox' || el.type === 'radio') continue;
          if (el.type === 'number' || el.type === 'date' || el.type === 'month') { el.type = 'text'; el.value = 'x1'; continue; }
          el.value = '';
        }
        form.noValidate = true;
        const button = form.querySelector('button[type=submit], button:not([type])');
        form.requestSubmit(button || undefined);
        return true;
      }, i);
      if (!submitted) continue;
      await navigated;
      tried += 1;
      check(serverErrors.length === before, `${path} form ${i}: ${serverErrors.slice(before).join(', ')}`);
      const message = await page.locator('.flash, [role=alert]').count();
      check(message > 0, `${path} form ${i}: no message on the page (${page.url()})`);
    }
  }
  check(tried >= 8, `only ${tried} forms were tried`);
  console.log(`   ${tried} forms submitted with bad input`);
});

await step('no-server-errors', async () => {
  check(serverErrors.length === 0, `server errors: ${serverErrors.join(', ')}`);
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
