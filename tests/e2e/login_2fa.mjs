// SPDX-License-Identifier: GPL-2.0-or-later
// The panel's login with a second factor (docs/auth.md), in headless Chromium:
// the password alone makes the page ask for the code (401 totp_required), a
// wrong code is refused with the server's message, the right one logs in.
// Run by tests/integration/test_2fa.py:
//   node tests/e2e/login_2fa.mjs URL
//   PANEL_USER=user:password  PANEL_WRONG=code  PANEL_CODE=code  CHROMIUM
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const nm = process.env.VPS_NODE_MODULES || path.join(TOP, '.cache', 'web', 'node_modules');
const die = (msg) => {
  console.error(`login 2fa e2e: ${msg}`);
  process.exit(1);
};
const { chromium } = createRequire(path.join(nm, 'noop.js'))('playwright-core');
const [url] = process.argv.slice(2);
const cred = process.env.PANEL_USER || die('PANEL_USER=user:password is not set');
const user = cred.slice(0, cred.indexOf(':'));
const password = cred.slice(cred.indexOf(':') + 1);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const page = await (await browser.newContext()).newPage();
page.setDefaultTimeout(15000);
const flash = () => page.locator('#flash:not([hidden])').textContent();
try {
  await page.goto(url);
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  const code = page.getByLabel('Two-factor code');
  if (await code.isVisible()) throw new Error('the code field shows before the server asks for it');
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await code.waitFor();
  if (!/second factor/.test(await flash())) throw new Error(`no word of the second factor: ${await flash()}`);
  await code.fill(process.env.PANEL_WRONG);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#flash', { hasText: 'wrong two-factor code' }).waitFor();
  await code.fill(process.env.PANEL_CODE);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'My VPSes' }).waitFor();
  const me = await page.locator('#whoami').textContent();
  if (!me.startsWith(user)) throw new Error(`logged in as "${me}", not ${user}`);
} catch (e) {
  await browser.close();
  die(e.message.split('\n')[0]);
}
await browser.close();
console.log('login 2fa e2e: passed');
