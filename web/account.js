// SPDX-License-Identifier: GPL-2.0-or-later
// The account page every user has (docs/panel.md): two-factor login
// (turn it on with a first code, see the recovery codes once, turn it off
// with a code or a recovery code) and webhooks (docs/webhooks.md: add one,
// see its secret once, watch its deliveries, delete it). A user whose
// session may only enrol in 2FA (the require_2fa setting) lands here.

import * as API from './api.js';
import { h, field, table, when, flash, busy, form } from './dom.js';

export async function accountView(m) {
  const me = await API.get('/me');
  m.append(h('h1', {}, 'Account'), await twoFactor(m, me));
  if (!me['2fa_required']) m.append(await webhooks());
}

// ---- two-factor login ----

async function twoFactor(m, me) {
  const box = h('section', { class: 'card', id: 'tfa', 'aria-labelledby': 'tfa-h' });
  const title = h('h2', { id: 'tfa-h' }, 'Two-factor login');
  const rerender = async () => box.replaceWith(await twoFactor(m, await API.get('/me')));

  if (me['2fa']) {
    const code = field('Code or recovery code', { name: 'code', autocomplete: 'one-time-code', required: true, maxlength: 64 });
    box.append(title, h('p', { id: 'tfa-state', dataset: { on: 'true' } }, 'On: you log in with a code from your authenticator app.'),
      form({ 'aria-label': 'Turn two-factor login off' }, [code.row, h('button', { type: 'submit', class: 'danger' }, 'Turn off two-factor login')],
        async () => {
          await API.post('/me/2fa/disable', { code: code.input.value });
          flash('two-factor login is off', 'ok');
          await rerender();
        }));
    return box;
  }
  const pw = field('Your password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  box.append(title, h('p', { id: 'tfa-state', dataset: { on: 'false' } },
    me['2fa_required'] ? 'This host requires two-factor login: turn it on to go on.' : 'Off.'),
  form({ 'aria-label': 'Begin two-factor login' }, [pw.row, h('button', { type: 'submit' }, 'Turn on two-factor login')], async (el) => {
    const s = await API.post('/me/2fa', { password: pw.input.value });
    const code = field('First code', { name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric', required: true, maxlength: 6 });
    el.replaceWith(h('div', { id: 'tfa-pending' },
      h('p', {}, 'Add this key to your authenticator app (or open the link on your phone), then type the code it shows.'),
      h('p', {}, 'Key: ', h('code', { id: 'tfa-secret' }, s.secret)),
      h('p', {}, h('a', { href: s.uri, id: 'tfa-uri' }, 'otpauth link')),
      form({ 'aria-label': 'Confirm two-factor login' }, [code.row, h('button', { type: 'submit' }, 'Confirm')], async () => {
        const c = await API.post('/me/2fa/confirm', { code: code.input.value });
        box.replaceChildren(title, h('p', { id: 'tfa-state', dataset: { on: 'true' } }, 'On.'),
          h('p', {}, 'Recovery codes: each logs you in once in place of a code. Keep them now; they are not shown again.'),
          h('ul', { id: 'tfa-recovery' }, c.recovery_codes.map((x) => h('li', {}, h('code', {}, x)))),
          h('button', { type: 'button', onclick: (ev) => busy(ev.target, rerender) }, 'I have kept them'));
        flash('two-factor login is on', 'ok');
      })));
  }));
  return box;
}

// ---- webhooks ----

async function webhooks() {
  const list = table(['URL', 'Events', 'Delivered', 'Failed', 'Last', 'Added', ''], []);
  const tbody = list.querySelector('tbody');
  const sec = h('section', { class: 'card', id: 'webhooks', 'aria-labelledby': 'wh-h' }, h('h2', { id: 'wh-h' }, 'Webhooks'),
    h('p', { class: 'muted' }, 'Each event of your VPSes is POSTed as JSON to the URL, signed: X-Vps-Signature is sha256= the HMAC-SHA256 of "X-Vps-Timestamp.body" under the secret.'),
    list);
  const shown = h('p', { id: 'wh-secret', hidden: true });

  async function refresh() {
    const hooks = await API.get('/webhooks');
    tbody.replaceChildren(...hooks.map((w) => {
      const del = h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete webhook ${w.id}` }, 'Delete');
      del.addEventListener('click', () => {
        if (!window.confirm(`Delete webhook ${w.id} (${w.url})?`)) return;
        busy(del, async () => {
          await API.del(`/webhooks/${w.id}`);
          shown.hidden = true;
          flash(`deleted webhook ${w.id}`, 'ok');
          await refresh();
        });
      });
      return h('tr', { dataset: { id: w.id } }, h('td', {}, w.url), h('td', {}, w.events), h('td', {}, w.delivered),
        h('td', {}, w.failed), h('td', {}, w.last_status || '–'), h('td', {}, when(w.created)), h('td', {}, del));
    }));
    if (!hooks.length) tbody.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'None yet.')));
  }
  const url = field('Webhook URL', { name: 'url', type: 'url', required: true, placeholder: 'https://example.com/vps-events' });
  const kinds = field('Event kinds', { name: 'events', placeholder: 'all, or suspended,crashed,…' });
  sec.append(form({ 'aria-label': 'Add webhook' }, [h('div', { class: 'grid' }, url.row, kinds.row), h('button', { type: 'submit' }, 'Add webhook')],
    async (el) => {
      const body = { url: url.input.value };
      if (kinds.input.value.trim()) body.events = kinds.input.value.trim();
      const w = await API.post('/webhooks', body);
      shown.replaceChildren(`Webhook ${w.id}'s secret (shown this once): `, h('code', {}, w.secret));
      shown.hidden = false;
      el.reset();
      await refresh();
    }), shown);
  await refresh();
  return sec;
}
