// SPDX-License-Identifier: GPL-2.0-or-later
// The control panel end to end in a real headless Chromium (docs/panel.md,
// "The end-to-end test"), driven only through what a person sees: labels,
// buttons, the terminal's text. A customer logs in, creates a busybox
// container from a plan, starts it, logs in on its console and runs a
// command, sees its graphs fill, stops it, takes, reverts to and deletes a
// snapshot, backs it up (the progress shown), restores and deletes the
// backup, sees a backup refused in the card once the host has no
// repository (removed through the administrator's API: the one thing not
// done on the page), logs out; an administrator logs
// in, sees the host report and edits the customer's quota on the Users
// page; the customer, back, has no Users page and is refused a create past
// the quota with the numbers. A screenshot after every step; the first
// failure ends the run with a message naming the step (exit 1).
//
//   node tests/e2e/panel.mjs URL SHOT_DIR
// with, in the environment:
//   PANEL_CUSTOMER=user:password   PANEL_ADMIN=user:password   PANEL_PLAN=plan
//   PANEL_VPS=name (default e2e-<random>)   PANEL_ROOT_PW (the container's root password)
//   VPS_NODE_MODULES (default .cache/web/node_modules: scripts/web-vendor)
//   CHROMIUM (default /usr/bin/chromium)
//   PANEL_API_LOG (a file: every answer of the API the panel got, as JSON, for
//   test_panel.py to check against docs/openapi.json)

import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const nm = process.env.VPS_NODE_MODULES || path.join(TOP, '.cache', 'web', 'node_modules');

function die(msg) {
  console.error(`panel e2e: ${msg}`);
  process.exit(1);
}

let chromium;
try {
  ({ chromium } = createRequire(path.join(nm, 'noop.js'))('playwright-core'));
} catch (e) {
  die(`playwright-core is not in ${nm} (run scripts/web-vendor): ${e.message}`);
}

const [url = process.env.PANEL_URL, shots = process.env.PANEL_SHOTS || 'panel-shots'] = process.argv.slice(2);
if (!url) die('usage: node tests/e2e/panel.mjs URL SHOT_DIR (and PANEL_CUSTOMER, PANEL_ADMIN, PANEL_PLAN)');
const cred = (v, what) => {
  const s = process.env[v] || die(`${v}=user:password (${what}) is not set`);
  const i = s.indexOf(':');
  return { user: s.slice(0, i), password: s.slice(i + 1) };
};
const customer = cred('PANEL_CUSTOMER', 'a customer');
const admin = cred('PANEL_ADMIN', 'an administrator');
const plan = process.env.PANEL_PLAN || die('PANEL_PLAN (a plan name) is not set');
const vps = process.env.PANEL_VPS || `e2e-${Math.random().toString(16).slice(2, 8)}`;
const rootPw = process.env.PANEL_ROOT_PW || 'e2e-root-pw';
fs.mkdirSync(shots, { recursive: true });

const t0 = Date.now();
const log = [];
const cspViolations = [];
let n = 0;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
context.setDefaultTimeout(15000);
const page = await context.newPage();
page.on('console', (m) => {
  const line = `[${m.type()}] ${m.text()}`;
  log.push(line);
  if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
});
page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
page.on('requestfailed', (r) => log.push(`[requestfailed] ${r.url()} ${r.failure()?.errorText}`));
const apiAnswers = [];
page.on('response', (r) => {
  const u = new URL(r.url());
  if (!u.pathname.startsWith('/api/v1/')) return;
  apiAnswers.push((async () => {
    const a = { method: r.request().method(), path: u.pathname + u.search, status: r.status(),
                headers: await r.allHeaders(), body: null };
    try {
      a.body = await r.text();
    } catch (e) {
      a.unread = e.message; // the page went on before the body was read
    }
    return a;
  })());
});

async function finish(code, msg) {
  fs.writeFileSync(path.join(shots, 'console.log'), log.join('\n') + '\n');
  if (process.env.PANEL_API_LOG)
    fs.writeFileSync(process.env.PANEL_API_LOG, JSON.stringify(await Promise.all(apiAnswers)));
  await browser.close().catch(() => {});
  if (code) die(msg);
  console.log(msg);
  process.exit(0);
}

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

async function step(name, f) {
  n++;
  const shot = path.join(shots, `${String(n).padStart(2, '0')}-${slug(name)}`);
  const t = Date.now();
  try {
    await f();
    if (cspViolations.length) throw new Error(`Content-Security-Policy violation: ${cspViolations[0]}`);
  } catch (e) {
    await page.screenshot({ path: `${shot}-FAILED.png`, fullPage: true }).catch(() => {});
    const flash = await page.locator('#flash:not([hidden])').textContent({ timeout: 500 }).catch(() => null);
    await finish(1, `step ${n} (${name}) failed: ${e.message.split('\n')[0]}` +
      (flash ? `\n  the panel says: ${flash}` : '') +
      `\n  screenshot: ${shot}-FAILED.png; browser console: ${path.join(shots, 'console.log')}`);
  }
  await page.screenshot({ path: `${shot}.png`, fullPage: true });
  console.log(`ok ${n} ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
}

// The terminal's visible text (xterm's DOM renderer: one div per row).
const screenText = () => page.locator('#console .xterm-rows').innerText();

// The last line with something on it (where a prompt waits).
const lastLine = (t) => t.replace(/\u00a0/g, ' ').trimEnd().split('\n').filter((l) => l.trim()).pop() || '';
const PROMPT = { test: (t) => /[#$]\s*$/.test(lastLine(t)) };

async function waitScreen(re, timeout, what) {
  const end = Date.now() + timeout;
  let text = '';
  while (Date.now() < end) {
    text = await screenText().catch(() => '');
    if (re.test(text)) return text;
    await page.waitForTimeout(200);
  }
  throw new Error(`the console did not show ${what} in ${timeout / 1000} s; it shows:\n${text.trimEnd().split('\n').slice(-6).join('\n')}`);
}

async function login(who, expectHeading) {
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await page.getByLabel('User name').fill(who.user);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: expectHeading }).waitFor();
  const me = await page.locator('#whoami').textContent();
  if (!me.startsWith(who.user)) throw new Error(`logged in as "${me}", not ${who.user}`);
}

// Wait for LOCATOR; an error the panel shows first ends the wait with its message.
async function orError(locator, timeout) {
  const err = page.locator('#flash.error:not([hidden])');
  await locator.or(err).first().waitFor({ timeout });
  if (await err.isVisible()) throw new Error(`the panel says: ${await err.textContent()}`);
}

async function stateIs(state, timeout) {
  await orError(page.locator(`#vps-state [data-state="${state}"]`), timeout);
}

await step('open the panel', async () => {
  const r = await page.goto(url);
  if (!r || r.status() !== 200) throw new Error(`GET ${url}: ${r ? r.status() : 'no answer'}`);
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
});

await step(`log in as customer ${customer.user}`, () => login(customer, 'My VPSes'));

await step(`create ${vps} (busybox container, plan ${plan})`, async () => {
  await page.getByLabel('Name', { exact: true }).fill(vps);
  await page.getByLabel('Kind').selectOption('ct');
  // plan e2e-deb offers debian-12 only: the form shows no other (vpsd would answer 403)
  await page.getByLabel('Plan').selectOption('e2e-deb');
  const offered = await page.getByLabel('Template').locator('option').allTextContents();
  if (offered.join() !== 'debian-12') throw new Error(`plan e2e-deb's templates in the form: ${offered}`);
  await page.getByLabel('Plan').selectOption(plan);
  await page.getByLabel('Template').selectOption('busybox');
  await page.getByLabel('Root password').fill(rootPw);
  await page.getByRole('button', { name: 'Create' }).click();
  await orError(page.getByRole('heading', { name: vps, exact: true }), 60000);
  await stateIs('stopped', 10000);
});

await step(`start ${vps}`, async () => {
  await page.getByRole('button', { name: `Start ${vps}`, exact: true }).click();
  await stateIs('running', 60000);
});

await step('run a command on the console', async () => {
  await page.locator('#console[data-state="connected"]').waitFor({ timeout: 20000 }).catch(async () => {
    throw new Error(`the console did not connect: ${await page.locator('#console-status').textContent()}`);
  });
  await page.locator('#console .xterm').click();
  // a new line gets a fresh prompt: busybox's getty asks for a login
  await page.keyboard.press('Enter');
  const LOGIN = { test: (t) => /login:\s*$/.test(lastLine(t)) };
  const first = await waitScreen({ test: (t) => LOGIN.test(t) || PROMPT.test(t) }, 20000,
    'a login prompt or a shell prompt');
  if (LOGIN.test(first)) {
    await page.keyboard.type('root\n', { delay: 20 });
    await waitScreen({ test: (t) => /[Pp]assword:\s*$/.test(lastLine(t)) }, 10000, 'a password prompt');
    await page.keyboard.type(rootPw + '\n', { delay: 20 });
    await waitScreen(PROMPT, 15000, 'a shell prompt after logging in as root');
  }
  await page.keyboard.type('echo pan$((20+22))el\n', { delay: 20 });
  await waitScreen(/pan42el/, 10000, 'pan42el (the output of echo pan$((20+22))el)');
});

await step(`rescue mode on (${vps} restarted into a busybox rescue system, its own root at /mnt), a password for it, a console login there, and off again`, async () => {
  const card = page.locator('#rescue');
  await card.scrollIntoViewIfNeeded();
  if (!(await page.locator('#rescue-state').textContent()).startsWith('Off:')) throw new Error('rescue is not off at first');
  let asked = '';
  page.once('dialog', (d) => { asked = d.message(); d.accept(); });
  await page.getByRole('button', { name: `Rescue mode on for ${vps}`, exact: true }).click();
  await orError(page.locator('#rescue-state', { hasText: /^On: / }), 60000);
  if (!asked.includes('/mnt') || !asked.includes('restarted')) throw new Error(`the rescue was not confirmed first (dialog: "${asked}")`);
  await stateIs('running', 30000);
  // the rescue system's own password (docs/rescue.md): the container's is left alone
  const rescuePw = 'e2e-rescue-pw';
  await page.getByLabel('New root password').fill(rescuePw);
  await page.getByRole('button', { name: 'Reset root password' }).click();
  await page.locator('#flash.ok:not([hidden])', { hasText: 'root password changed' }).waitFor();
  // the console of the rescue system's monitor (the restart closed the old one)
  await page.getByRole('button', { name: 'Reconnect console' }).click();
  await page.locator('#console[data-state="connected"]').waitFor({ timeout: 20000 });
  await page.locator('#console .xterm').click();
  await page.keyboard.press('Enter');
  const LOGIN = { test: (t) => /login:\s*$/.test(lastLine(t)) };
  await waitScreen(LOGIN, 30000, 'the rescue system\'s login prompt');
  await page.keyboard.type('root\n', { delay: 20 });
  await waitScreen({ test: (t) => /[Pp]assword:\s*$/.test(lastLine(t)) }, 10000, 'a password prompt');
  await page.keyboard.type(rescuePw + '\n', { delay: 20 });
  await waitScreen(PROMPT, 15000, 'a shell prompt in the rescue system');
  await page.keyboard.type(`cat /mnt/etc/hostname; echo res$((20+22))cue\n`, { delay: 20 });
  await waitScreen(new RegExp(`${vps}\\s+res42cue`), 10000, `the container's hostname from /mnt, then res42cue`);
  await page.getByRole('button', { name: `Rescue mode off for ${vps}`, exact: true }).click();
  await orError(page.locator('#rescue-state', { hasText: /^Off: / }), 60000);
  await stateIs('running', 30000);
});

await step('see the usage graphs fill', async () => {
  await page.locator('#chart-cpu canvas').waitFor();
  await page.waitForFunction(() => {
    const c = document.querySelector('#chart-cpu');
    return c && Number(c.dataset.points) > 1;
  }, null, { timeout: 30000 });
  await page.locator('#chart-cpu').scrollIntoViewIfNeeded();
  // the day's history: minute averages of the same samples (docs/usage.md "History")
  await page.getByRole('button', { name: 'Day', exact: true }).click();
  await page.waitForFunction(() => {
    const c = document.querySelector('#chart-cpu');
    return c && c.dataset.span === 'day' && Number(c.dataset.points) >= 1;
  }, null, { timeout: 15000 });
  // and the month's half hours and the year's days: one point each so far
  for (const [label, span] of [['Month', 'month'], ['Year', 'year']]) {
    await page.getByRole('button', { name: label, exact: true }).click();
    await page.waitForFunction((want) => {
      const c = document.querySelector('#chart-cpu');
      return c && c.dataset.span === want && Number(c.dataset.points) >= 1;
    }, span, { timeout: 15000 });
  }
  await page.getByRole('button', { name: 'Live', exact: true }).click();
  await page.waitForFunction(() => {
    const c = document.querySelector('#chart-cpu');
    return c && c.dataset.span === 'live' && Number(c.dataset.points) > 1;
  }, null, { timeout: 30000 });
});

await step('traffic this month; the firewall: a rule added, a bad one refused, defaults set, the rule deleted', async () => {
  const month = await page.locator('#traffic-month').textContent();
  if (!/^\d{4}-\d{2}: /.test(month)) throw new Error(`the traffic line reads "${month}"`);
  // no stray text written by the DOM's append (a `null` where a card was left out)
  const stray = await page.evaluate(() => [...document.querySelectorAll('#main, #main > *, #traffic')]
    .flatMap((el) => [...el.childNodes]).filter((n) => n.nodeType === 3 && n.textContent.trim()).map((n) => n.textContent));
  if (stray.length) throw new Error(`stray text on the page: ${JSON.stringify(stray)}`);
  const fw = page.locator('#firewall');
  await fw.scrollIntoViewIfNeeded();
  await fw.getByLabel('Direction').selectOption('in');
  await fw.getByLabel('Action').selectOption('accept');
  await fw.getByLabel('Protocol').selectOption('tcp');
  await fw.getByLabel('Port').fill('22');
  await fw.getByLabel('Source').fill('198.51.100.0/24');
  await fw.getByRole('button', { name: 'Add rule' }).click();
  const row = fw.locator('tr[data-n="1"]');
  await orError(row, 10000);
  if (!(await row.textContent()).includes('198.51.100.0/24')) throw new Error(`rule 1 reads "${await row.textContent()}"`);
  // a port that is none: the API's message is shown, and no rule 2 appears
  await fw.getByLabel('Protocol').selectOption('tcp');
  await fw.getByLabel('Port').fill('70000');
  await fw.getByRole('button', { name: 'Add rule' }).click();
  await page.locator('#flash.error:not([hidden])').waitFor();
  if (await fw.locator('tr[data-n="2"]').count()) throw new Error('a rule with port 70000 was added');
  await fw.getByLabel('Default, incoming').selectOption('drop');
  await fw.getByRole('button', { name: 'Save defaults' }).click();
  await page.locator('#flash.ok:not([hidden])').waitFor();
  if ((await fw.getByLabel('Default, incoming').inputValue()) !== 'drop') throw new Error('the incoming default did not stay drop');
  await fw.getByRole('button', { name: 'Delete firewall rule 1' }).click();
  await row.waitFor({ state: 'detached' });
});

await step(`stop ${vps}`, async () => {
  await page.getByRole('button', { name: `Stop ${vps}`, exact: true }).click();
  await stateIs('stopped', 60000);
});

await step('snapshots: one taken, listed, reverted to and deleted; backups: one made now (its progress shown), listed, restored and deleted; a schedule saved and removed', async () => {
  const sn = page.locator('#snapshots');
  await sn.scrollIntoViewIfNeeded();
  await sn.getByLabel('Snapshot name').fill('e2e-snap');
  await sn.getByRole('button', { name: 'Take snapshot' }).click();
  const srow = sn.locator('tr[data-snap="e2e-snap"]');
  await orError(srow, 60000);
  if (!/\d/.test(await srow.locator('td').nth(2).textContent())) throw new Error(`the snapshot's row reads "${await srow.textContent()}"`);
  let asked = '';
  page.once('dialog', (d) => { asked = d.message(); d.accept(); });
  await sn.getByRole('button', { name: 'Revert snapshot e2e-snap', exact: true }).click();
  await orError(page.locator('#flash.ok:not([hidden])').filter({ hasText: 'reverted to e2e-snap' }), 60000);
  if (!asked.includes('e2e-snap')) throw new Error(`the revert was not confirmed first (dialog: "${asked}")`);
  await sn.getByRole('button', { name: 'Delete snapshot e2e-snap', exact: true }).click();
  await orError(sn.getByText('No snapshots.'), 30000);

  const bk = page.locator('#backups');
  await bk.scrollIntoViewIfNeeded();
  if (await bk.locator('#backup-problem').isVisible()) throw new Error(`the backups card says: ${await bk.locator('#backup-problem').textContent()}`);
  await bk.getByRole('button', { name: 'Back up now' }).click();
  // the operation's progress while it runs, then the backup's row
  await orError(bk.locator('#backup-progress').filter({ hasText: /backing up: \d+%/ }), 30000);
  await page.screenshot({ path: path.join(shots, 'backup-progress.png'), fullPage: true });
  const brow = bk.locator('tr[data-backup]');
  await orError(brow, 120000);
  const id = await brow.getAttribute('data-backup');
  if (!/^[0-9a-f]{8,64}$/.test(id)) throw new Error(`a backup with id "${id}"`);
  asked = '';
  page.once('dialog', (d) => { asked = d.message(); d.accept(); });
  await bk.getByRole('button', { name: `Restore backup ${id}`, exact: true }).click();
  await orError(page.locator('#flash.ok:not([hidden])').filter({ hasText: `restored from ${id}` }), 120000);
  if (!asked.includes(id)) throw new Error(`the restore was not confirmed first (dialog: "${asked}")`);
  await bk.getByLabel('Daily at (UTC)').fill('04:30');
  await bk.getByLabel('Keep daily').fill('5');
  await bk.getByLabel('Keep weekly').fill('2');
  await bk.getByRole('button', { name: 'Save schedule' }).click();
  await orError(bk.locator('#backup-schedule').filter({ hasText: 'daily at 04:30 UTC' }), 10000);
  if (!(await bk.locator('#backup-schedule').textContent()).includes('keeping 5 daily and 2 weekly'))
    throw new Error(`the schedule reads "${await bk.locator('#backup-schedule').textContent()}"`);
  await bk.getByRole('button', { name: 'Remove schedule' }).click();
  await orError(bk.locator('#backup-schedule').filter({ hasText: 'No schedule' }), 10000);
  await bk.getByRole('button', { name: `Delete backup ${id}`, exact: true }).click();
  await orError(bk.getByText('No backups.'), 60000);
});

// One request on the API as WHO, in a session of its own (not the page's):
// {status, json}. The administrator's from here for what the panel has no
// page for (repositories: the CLI's `vps repo`); a customer's to try a route
// the panel does not offer them.
async function apiAs(who, method, p, body) {
  const base = new URL('/api/v1', url).href;
  const li = await fetch(`${base}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user: who.user, password: who.password }) });
  if (!li.ok) throw new Error(`${who.user} login: ${li.status}`);
  const { csrf } = await li.json();
  const cookie = li.headers.get('set-cookie').split(';')[0];
  const r = await fetch(base + p, { method, headers: { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  await fetch(`${base}/logout`, { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': csrf } });
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function adminApi(method, p, body) {
  const r = await apiAs(admin, method, p, body);
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

await step('backups on a host without a repository: the API\'s error shown in the card, the page whole', async () => {
  await adminApi('DELETE', '/repos/local'); // it holds no backup now: removable
  await page.reload();
  await orError(page.getByRole('heading', { name: vps, exact: true }), 30000);
  const bk = page.locator('#backups');
  await bk.scrollIntoViewIfNeeded();
  await bk.getByRole('button', { name: 'Back up now' }).click();
  const problem = bk.locator('#backup-problem');
  await problem.waitFor({ timeout: 30000 });
  if (!/repositor/i.test(await problem.textContent())) throw new Error(`the backups card says "${await problem.textContent()}"`);
  if (await bk.getByRole('button', { name: 'Back up now' }).isDisabled()) throw new Error('"Back up now" stayed disabled');
  // the rest of the page still works: the snapshots card and the console are there
  await page.locator('#snapshots').getByRole('button', { name: 'Take snapshot' }).waitFor();
  await page.getByRole('heading', { name: 'Console' }).waitFor();
});

// RFC 6238's code for a base32 secret now (SHA-1, 6 digits, 30 s), made here
// independently of vpsd's liboath.
function totp(base32) {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bits = [...base32.replace(/=+$/, '')].map((c) => abc.indexOf(c).toString(2).padStart(5, '0')).join('');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const ctr = Buffer.alloc(8);
  ctr.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const mac = crypto.createHmac('sha1', key).update(ctr).digest();
  const o = mac[19] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

await step('account: two-factor login on (a first code) and off (a recovery code); a webhook added and deleted', async () => {
  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByRole('heading', { name: 'Two-factor login' }).waitFor();
  await page.getByLabel('Your password').fill(customer.password);
  await page.getByRole('button', { name: 'Turn on two-factor login' }).click();
  await orError(page.locator('#tfa-secret'), 10000);
  const secret = (await page.locator('#tfa-secret').textContent()).trim();
  await page.getByLabel('First code').fill(totp(secret));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await orError(page.locator('#tfa-recovery li').first(), 10000);
  const codes = await page.locator('#tfa-recovery code').allTextContents();
  if (codes.length !== 10) throw new Error(`${codes.length} recovery codes shown, not 10`);
  await page.getByRole('button', { name: 'I have kept them' }).click();
  await page.locator('#tfa-state[data-on="true"]').waitFor();
  await page.getByLabel('Code or recovery code').fill(codes[0]);
  await page.getByRole('button', { name: 'Turn off two-factor login' }).click();
  await orError(page.locator('#tfa-state[data-on="false"]'), 10000);

  await page.getByLabel('Webhook URL').fill('https://192.0.2.10/vps-events');
  await page.getByLabel('Event kinds').fill('suspended,crashed');
  await page.getByRole('button', { name: 'Add webhook' }).click();
  await orError(page.locator('#wh-secret:not([hidden]) code'), 10000);
  const s = await page.locator('#wh-secret code').textContent();
  if (!/^[0-9a-f]{64}$/.test(s)) throw new Error(`the webhook's secret reads "${s}"`);
  const row = page.locator('#webhooks tr[data-id]');
  await row.waitFor();
  if (!(await row.textContent()).includes('suspended,crashed')) throw new Error(`the webhook row reads "${await row.textContent()}"`);
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: /^Delete webhook / }).click();
  await row.waitFor({ state: 'detached' });
});

await step('log out', async () => {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
});

await step(`log in as admin ${admin.user} and see the host report`, async () => {
  await login(admin, 'Host');
  for (const res of ['memory', 'disk', 'cpus']) {
    const card = page.locator(`#res-${res}`);
    // a bar may be 0 px wide (64 MiB of a large disk): present, not visible
    await card.locator('.bar.alloc').waitFor({ state: 'attached' });
    await card.locator('.bar.used').waitFor({ state: 'attached' });
    await card.getByText('Allocated', { exact: true }).waitFor();
    const phys = Number(await card.getAttribute('data-physical'));
    if (!(phys > 0)) throw new Error(`the ${res} card has no capacity (data-physical=${phys})`);
    const ratio = await card.locator('.ratio').textContent();
    if (!/^\d+\.\d\d× sold$/.test(ratio)) throw new Error(`the ${res} card's oversell ratio reads "${ratio}"`);
  }
  await page.getByRole('heading', { name: 'Warnings' }).waitFor();
  const total = await page.locator('#vps-total').textContent();
  if (!/^\d+ \(\d+ running\)$/.test(total)) throw new Error(`the VPS count reads "${total}"`);
});

await step('admin: every VPS with its owner, users, plans (add and delete), audit, events', async () => {
  page.on('dialog', (d) => d.accept());
  await page.getByRole('link', { name: 'VPSes' }).click();
  const row = page.locator(`tr[data-vps="${vps}"]`);
  await row.waitFor();
  if (!(await row.textContent()).includes(customer.user)) throw new Error(`${vps}'s row does not name its owner ${customer.user}`);
  await page.getByRole('link', { name: 'Users' }).click();
  await page.locator(`tr[data-name="${customer.user}"]`).waitFor();
  // a customer with a quota (docs/auth.md), shown in the list, then removed
  await page.getByLabel('User name').fill('e2e-quota');
  await page.getByLabel('Password', { exact: true }).fill('e2e-quota-pw-1');
  await page.getByLabel('Quota: VPSes').fill('2');
  await page.getByLabel('Quota: RAM').fill('1G');
  await page.getByLabel('Quota: backups').fill('3');
  await page.getByRole('button', { name: 'Add user' }).click();
  const quser = page.locator('tr[data-name="e2e-quota"]');
  await orError(quser, 10000);
  const qtext = await quser.textContent();
  if (!qtext.includes('VPSes 2, RAM 1 GiB, backups 3')) throw new Error(`e2e-quota's row reads "${qtext}"`);
  await page.getByRole('button', { name: 'Delete user e2e-quota' }).click();
  await quser.waitFor({ state: 'detached' });
  await page.getByRole('link', { name: 'Plans' }).click();
  await page.locator(`tr[data-name="${plan}"]`).waitFor();
  await page.getByLabel('Plan name').fill('e2e-extra');
  await page.getByLabel('Memory').fill('256M');
  await page.getByLabel('Disk').fill('1G');
  await page.getByRole('button', { name: 'Add plan' }).click();
  await orError(page.locator('tr[data-name="e2e-extra"]'), 10000);
  await page.getByRole('button', { name: 'Delete plan e2e-extra' }).click();
  await page.locator('tr[data-name="e2e-extra"]').waitFor({ state: 'detached' });
  // a VLAN network (docs/networks.md, "VLANs"): a bad id gets the API's message; a good one
  // is made where the kernel has 802.1Q, and refused with what is missing where it has not
  await page.getByRole('link', { name: 'Networks' }).click();
  await page.getByRole('heading', { name: 'IP pools (networks)' }).waitFor();
  const vlanErr = page.locator('#flash.error:not([hidden])');
  await page.getByLabel('Network name').fill('e2evlan');
  await page.getByLabel('IPv4 prefix').fill('10.97.0.1/24');
  await page.getByLabel('VLAN id').fill('4095');
  await page.getByLabel('VLAN parent device').fill('lo');
  await page.getByRole('button', { name: 'Add network' }).click();
  await vlanErr.waitFor({ timeout: 10000 });
  if (!(await vlanErr.textContent()).includes('vlan')) throw new Error(`VLAN 4095: the panel says "${await vlanErr.textContent()}"`);
  await page.getByLabel('VLAN id').fill('100');
  await page.getByRole('button', { name: 'Add network' }).click();
  const vrow = page.locator('tr[data-name="e2evlan"]');
  await page.waitForFunction(() => {
    const f = document.querySelector('#flash:not([hidden])');
    return document.querySelector('tr[data-name="e2evlan"]') || (f && f.textContent.includes('802.1Q'));
  }, null, { timeout: 20000 });
  if (await vrow.count()) {
    if (!(await vrow.textContent()).includes('100 on lo')) throw new Error(`e2evlan's row reads "${await vrow.textContent()}"`);
    await page.getByRole('button', { name: 'Delete network e2evlan' }).click();
    await vrow.waitFor({ state: 'detached' });
  } else {
    const listed = await adminApi('GET', '/networks');
    if (listed.some((n) => n.name === 'e2evlan')) throw new Error('a refused VLAN network was stored');
  }
  await page.getByRole('link', { name: 'Audit' }).click();
  await page.getByRole('cell', { name: 'POST /api/v1/login' }).first().waitFor();
  await page.getByRole('link', { name: 'Events' }).click();
  await page.getByRole('cell', { name: vps, exact: true }).first().waitFor();
});

await step(`admin: ${vps}'s container switches (TUN on, a read limit) in its details`, async () => {
  await page.goto(`${url.replace(/\/$/, '')}/#/vps/${vps}`);
  const sw = page.getByRole('form', { name: 'Container switches' });
  await sw.getByLabel('TUN (a VPN inside)').check();
  await sw.getByLabel('Read bytes/s').fill('1048576');
  await sw.getByRole('button', { name: 'Save switches' }).click();
  await page.locator('#flash.ok:not([hidden])').waitFor();
  await page.waitForFunction(() => {
    const f = document.querySelector('dd[data-k="features"]');
    const d = document.querySelector('dd[data-k="disk limits"]');
    return f && f.textContent === 'tun' && d && d.textContent.includes('read bytes/s 1 MiB');
  }, null, { timeout: 10000 });
});

await step(`admin: ${customer.user}'s quota edited on the Users page (a bad figure refused with the API's message), the new numbers shown`, async () => {
  await page.getByRole('link', { name: 'Users' }).click();
  const row = page.locator(`tr[data-name="${customer.user}"]`);
  const shown = row.locator('.quota-text');
  await row.waitFor();
  if ((await shown.textContent()) !== 'none') throw new Error(`${customer.user}'s quota reads "${await shown.textContent()}" before`);
  await row.getByRole('button', { name: `Edit quota of ${customer.user}` }).click();
  const f = page.getByRole('form', { name: `Quota of ${customer.user}` });
  await f.getByLabel('VPSes').fill('one');
  await f.getByLabel('RAM').fill('128M');
  await f.getByRole('button', { name: 'Save quota' }).click();
  const err = page.locator('#flash.error:not([hidden])');
  await err.waitFor({ timeout: 10000 });
  if (!(await err.textContent()).includes('`quota.vps`: expected a whole number >= 0'))
    throw new Error(`a quota of "one" VPSes: the panel says "${await err.textContent()}", not the API's refusal`);
  if ((await shown.textContent()) !== 'none') throw new Error(`after a refusal the quota reads "${await shown.textContent()}"`);
  const before = (await adminApi('GET', `/users/${customer.user}`)).quota || {};
  if (Object.keys(before).length) throw new Error(`a refused quota was stored: ${JSON.stringify(before)}`);
  await f.getByLabel('VPSes').fill('1');
  await f.getByRole('button', { name: 'Save quota' }).click();
  await page.locator('#flash.ok:not([hidden])').waitFor({ timeout: 10000 });
  const want = 'VPSes 1, RAM 128 MiB';
  if ((await shown.textContent()) !== want) throw new Error(`the quota reads "${await shown.textContent()}", not "${want}"`);
  if (await f.isVisible()) throw new Error('the quota form stayed open after saving');
  // what the API holds, read again from a fresh page
  await page.reload();
  await row.locator('.quota-text', { hasText: want }).waitFor({ timeout: 10000 });
  const q = (await adminApi('GET', `/users/${customer.user}`)).quota;
  if (q.vps !== 1 || q.ram !== 128 * 1024 * 1024) throw new Error(`the API holds quota ${JSON.stringify(q)}`);
});

await step(`customer ${customer.user}: no Users page, its route refused, a create past the quota refused with the numbers`, async () => {
  await page.getByRole('button', { name: 'Log out' }).click();
  await login(customer, 'My VPSes');
  if (await page.getByRole('link', { name: 'Users' }).count()) throw new Error('a customer is offered the Users page');
  await page.goto(`${url.replace(/\/$/, '')}/#/users`);
  await page.getByRole('heading', { name: 'My VPSes' }).waitFor(); // sent back to their own list
  if (await page.locator(`tr[data-name="${customer.user}"]`).count()) throw new Error('a customer sees the users list');
  // the routes themselves, as a customer would call them without the panel
  for (const [method, p, body] of [['GET', '/users'], ['GET', `/users/${customer.user}`],
    ['PATCH', `/users/${customer.user}`, { quota: { vps: 99 } }], ['PATCH', `/users/${customer.user}`, { quota: {} }]]) {
    const r = await apiAs(customer, method, p, body);
    if (r.status !== 403) throw new Error(`a customer's ${method} ${p}: ${r.status}, not 403`);
  }
  await page.getByLabel('Name', { exact: true }).fill(`${vps}-2`);
  await page.getByLabel('Kind').selectOption('ct');
  await page.getByLabel('Plan').selectOption(plan);
  await page.getByLabel('Template').selectOption('busybox');
  await page.getByLabel('Root password').fill(rootPw);
  await page.getByRole('button', { name: 'Create' }).click();
  const err = page.locator('#flash.error:not([hidden])');
  await err.waitFor({ timeout: 30000 });
  const msg = await err.textContent();
  for (const want of [`quota of user \`${customer.user}\``, 'vps: 1 of 1 used, 1 asked', 'ram: 128 MiB of 128 MiB used, 128 MiB asked'])
    if (!msg.includes(want)) throw new Error(`the refusal reads "${msg}", without "${want}"`);
  const mine = (await apiAs(customer, 'GET', '/vps')).json.map((v) => v.name);
  if (mine.join() !== vps) throw new Error(`${customer.user} holds ${mine.join(', ')}`);
  const q = (await adminApi('GET', `/users/${customer.user}`)).quota;
  if (q.vps !== 1) throw new Error(`the quota is ${JSON.stringify(q)} after a customer's tries`);
  await adminApi('PATCH', `/users/${customer.user}`, { quota: {} }); // test_panel_screen's VM comes next
});

await finish(0, `panel e2e: ${n} steps passed in ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${shots}`);
