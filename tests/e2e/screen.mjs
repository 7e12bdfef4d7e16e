// SPDX-License-Identifier: GPL-2.0-or-later
// A VM's screen in the panel, end to end in headless Chromium (docs/screen.md,
// docs/panel.md): a customer logs in, opens their running firmware-booted VM
// (tests/guest/screenboot.S), sees noVNC's canvas connect and draw the boot
// program's red bar, types into the "send text" box and presses Ctrl-Alt-Del.
// test_panel.py reads the VM's serial line meanwhile: the text arrives, then
// the boot program's marker again (the reset). A screenshot after each step.
//
//   node tests/e2e/screen.mjs URL SHOT_DIR
// with PANEL_CUSTOMER=user:password, PANEL_VPS=name, PANEL_TEXT=text to send,
// VPS_NODE_MODULES, CHROMIUM as for panel.mjs.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const nm = process.env.VPS_NODE_MODULES || path.join(TOP, '.cache', 'web', 'node_modules');
const die = (msg) => {
  console.error(`screen e2e: ${msg}`);
  process.exit(1);
};
const { chromium } = createRequire(path.join(nm, 'noop.js'))('playwright-core');
const [url, shots = 'screen-shots'] = process.argv.slice(2);
const [user, password] = (process.env.PANEL_CUSTOMER || die('PANEL_CUSTOMER=user:password')).split(':');
const vps = process.env.PANEL_VPS || die('PANEL_VPS=name');
const text = process.env.PANEL_TEXT || 'vps42';
fs.mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const page = await (await browser.newContext({ viewport: { width: 1280, height: 1400 } })).newPage();
page.setDefaultTimeout(20000);
const log = [];
const csp = [];
page.on('console', (m) => {
  log.push(`[${m.type()}] ${m.text()}`);
  if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
});
page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));

let n = 0;
async function step(name, f) {
  n++;
  const shot = path.join(shots, `${String(n).padStart(2, '0')}-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`);
  try {
    await f();
    if (csp.length) throw new Error(`Content-Security-Policy violation: ${csp[0]}`);
  } catch (e) {
    await page.screenshot({ path: `${shot}-FAILED.png`, fullPage: true }).catch(() => {});
    fs.writeFileSync(path.join(shots, 'console.log'), log.join('\n') + '\n');
    await browser.close();
    die(`step ${n} (${name}) failed: ${e.message.split('\n')[0]}; screenshot ${shot}-FAILED.png`);
  }
  await page.screenshot({ path: `${shot}.png`, fullPage: true });
  console.log(`ok ${n} ${name}`);
}

// The share of the canvas's pixels that are the boot program's red (VGA 0xaa0000).
const redShare = () => page.evaluate(() => {
  const c = document.querySelector('#screen canvas');
  if (!c || !c.width) return 0;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let red = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] > 0x80 && d[i + 1] < 0x40 && d[i + 2] < 0x40) red++;
  return red / (d.length / 4);
});

await step('log in', async () => {
  await page.goto(url);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'My VPSes' }).waitFor();
});

await step(`open ${vps} and see its screen`, async () => {
  await page.getByRole('link', { name: vps, exact: true }).click();
  await page.getByRole('heading', { name: 'Screen', exact: true }).waitFor();
  await page.locator('#screen[data-state="connected"]').waitFor({ timeout: 30000 }).catch(async () => {
    throw new Error(`the screen did not connect: ${await page.locator('#screen-status').textContent()}`);
  });
  await page.locator('#screen canvas').waitFor();
  // one text row of 25 is the red bar: 1/25 of the picture, give or take scaling
  const end = Date.now() + 90000;
  let share = 0;
  while (Date.now() < end && !((share = await redShare()) > 0.02 && share < 0.08)) await page.waitForTimeout(500);
  if (!(share > 0.02 && share < 0.08)) throw new Error(`the canvas shows no red bar (red share ${share.toFixed(3)})`);
  await page.locator('#screen').scrollIntoViewIfNeeded();
});

await step(`send the text "${text}"`, async () => {
  await page.getByLabel('Text to send').fill(text);
  await page.getByRole('button', { name: 'Send text' }).click();
  await page.waitForFunction(() => document.querySelector('#screen canvas') !== null);
  await page.waitForTimeout(1000);
});

await step('press Ctrl-Alt-Del', async () => {
  await page.getByRole('button', { name: 'Ctrl-Alt-Del' }).click();
  await page.waitForTimeout(1000);
});

fs.writeFileSync(path.join(shots, 'console.log'), log.join('\n') + '\n');
await browser.close();
console.log(`screen e2e: ${n} steps passed`);
