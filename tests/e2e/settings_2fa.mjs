// SPDX-License-Identifier: GPL-2.0-or-later
// The administrator's Settings page (docs/panel.md, docs/auth.md "Requiring
// it"), in headless Chromium: an admin without 2FA logs in, finds the
// requirement as the server has it, is warned that Everyone includes them,
// saves it and is sent to their own enrolment; then a customer without 2FA,
// in a browser of their own, logs in and lands on the enrolment (Account)
// with the host's demand. A customer's panel has no
// Settings link and #/settings sends them home. Run by tests/integration/test_2fa.py:
//   node tests/e2e/settings_2fa.mjs URL
//   PANEL_ADMIN=user:password  PANEL_USER=user:password  CHROMIUM
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const nm = process.env.VPS_NODE_MODULES || path.join(TOP, '.cache', 'web', 'node_modules');
const die = (msg) => {
  console.error(`settings 2fa e2e: ${msg}`);
  process.exit(1);
};
const { chromium } = createRequire(path.join(nm, 'noop.js'))('playwright-core');
const [url] = process.argv.slice(2);
const cred = (v) => {
  const s = process.env[v] || die(`${v}=user:password is not set`);
  return [s.slice(0, s.indexOf(':')), s.slice(s.indexOf(':') + 1)];
};
const [admin, adminPw] = cred('PANEL_ADMIN');
const [user, userPw] = cred('PANEL_USER');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});

async function login(name, pw) {
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(15000);
  await page.goto(url);
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password', { exact: true }).fill(pw);
  await page.getByRole('button', { name: 'Log in' }).click();
  return page;
}

let step = 'admin login';
try {
  const a = await login(admin, adminPw);
  await a.getByRole('heading', { name: 'Host' }).waitFor();
  step = 'settings page';
  await a.getByRole('link', { name: 'Settings' }).click();
  await a.getByRole('heading', { name: 'Settings' }).waitFor();
  const who = a.getByLabel('Two-factor login required of');
  if ((await who.inputValue()) !== 'none') throw new Error(`the page shows ${await who.inputValue()}, the server none`);
  step = 'save';
  const warn = a.locator('#require-2fa-self');
  if (await warn.isVisible()) throw new Error('the warning shows before a choice that needs it');
  await who.selectOption('all');
  await warn.waitFor();
  await a.getByRole('button', { name: 'Save' }).click();
  await a.locator('#flash', { hasText: 'required of: all' }).waitFor();
  // the admin has no second factor: their own session is now enrolment only
  step = 'own enrolment';
  await a.getByRole('heading', { name: 'Account' }).waitFor();
  await a.locator('#tfa-state', { hasText: 'requires two-factor login' }).waitFor();

  step = 'customer login';
  const c = await login(user, userPw);
  await c.getByRole('heading', { name: 'Account' }).waitFor();
  await c.locator('#tfa-state', { hasText: 'requires two-factor login' }).waitFor();
  if (await c.getByRole('link', { name: 'Settings' }).count()) throw new Error('a customer sees the Settings link');
  await c.goto(`${url}#/settings`);
  await c.waitForTimeout(500);
  if (await c.getByRole('heading', { name: 'Settings' }).count()) throw new Error('a customer opened #/settings');
} catch (e) {
  await browser.close();
  die(`${step}: ${e.message.split('\n')[0]}`);
}
await browser.close();
console.log('settings 2fa e2e: passed');
