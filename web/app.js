// SPDX-License-Identifier: GPL-2.0-or-later
// The panel's entry (docs/panel.md): the session, the hash router and the
// views every user has: the login page and the VPS list with its create
// form. The VPS page is vpspage.js; the administrator's pages are admin.js.
// Each view is render(main, ...args) -> an optional clean-up (timers,
// sockets) run when the view is left.

import * as API from './api.js';
import { session } from './api.js';
import { h, field, select, setOptions, table, bytes, rate, cores, flash, clearFlash, busy, form } from './dom.js';

const main = document.getElementById('main');
let cleanup = null;

const routes = [
  [/^#\/login$/, loginView, false],
  [/^#\/$/, listView, true],
  [/^#\/vps\/([a-z0-9-]+)$/, (m, name) => import('./vpspage.js').then((x) => x.vpsView(m, name)), true],
  [/^#\/(host|plans|users|networks|settings|audit)$/, (m, page) => import('./admin.js').then((x) => x.adminView(m, page)), 'admin'],
  [/^#\/events$/, (m) => import('./admin.js').then((x) => x.eventsView(m)), true],
  [/^#\/account$/, (m) => import('./account.js').then((x) => x.accountView(m)), true],
];

API.setUnauthenticatedHandler(() => {
  session.user = session.role = session.csrf = null;
  if (location.hash !== '#/login') {
    flash('your session has ended: log in again');
    location.hash = '#/login';
  }
});

async function route() {
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* a view's clean-up must not stop the next one */
    }
    cleanup = null;
  }
  let hash = location.hash || '#/';
  if (session.user && hash === '#/login') hash = home();
  const r = routes.find(([re]) => re.test(hash));
  if (!r) {
    location.hash = session.user ? home() : '#/login';
    return;
  }
  if (r[2] && !session.user) {
    location.hash = '#/login';
    return;
  }
  if (r[2] === 'admin' && session.role !== 'admin') {
    location.hash = '#/';
    return;
  }
  renderHeader();
  main.replaceChildren();
  const args = hash.match(r[0]).slice(1);
  try {
    cleanup = (await r[1](main, ...args)) || null;
  } catch (e) {
    flash(e.message);
  }
}

const home = () => (session.role === 'admin' ? '#/host' : '#/');

function renderHeader() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  const links =
    session.role === 'admin'
      ? [['#/host', 'Host'], ['#/', 'VPSes'], ['#/plans', 'Plans'], ['#/users', 'Users'],
         ['#/networks', 'Networks'], ['#/settings', 'Settings'], ['#/audit', 'Audit'], ['#/events', 'Events'], ['#/account', 'Account']]
      : session.user
        ? [['#/', 'My VPSes'], ['#/events', 'Events'], ['#/account', 'Account']]
        : [];
  const cur = location.hash || '#/';
  nav.replaceChildren(
    ...links.map(([href, text]) =>
      h('a', { href, 'aria-current': cur === href || (href !== '#/' && cur.startsWith(href)) ? 'page' : null }, text)
    )
  );
  if (!session.user) {
    who.replaceChildren();
    return;
  }
  const out = h('button', { type: 'button', class: 'link' }, 'Log out');
  out.addEventListener('click', () =>
    busy(out, async () => {
      await API.logout();
      clearFlash();
      location.hash = '#/login';
    })
  );
  who.replaceChildren(h('span', { id: 'whoami' }, `${session.user} (${session.role})`), out);
}

// ---- login ----

function loginView(m) {
  const user = field('User name', { name: 'user', autocomplete: 'username', required: true, autofocus: true });
  const pass = field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  // shown when the server says this user logs in with a second factor (401 totp_required)
  const code = field('Two-factor code', { name: 'totp', autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 64 });
  code.row.hidden = true;
  const f = form({ class: 'card login', 'aria-label': 'Log in' }, [
    h('h1', {}, 'Log in'),
    user.row,
    pass.row,
    code.row,
    h('button', { type: 'submit' }, 'Log in'),
  ], async () => {
    let j;
    try {
      j = await API.login(user.input.value, pass.input.value, code.row.hidden ? undefined : code.input.value);
    } catch (e) {
      if (e.code === 'totp_required') {
        code.row.hidden = false;
        code.input.required = true;
        code.input.focus();
      }
      throw e;
    }
    clearFlash();
    if (j['2fa_required']) {
      flash('This host requires two-factor login and you have none: turn it on here first.');
      location.hash = '#/account';
      return;
    }
    location.hash = home();
  });
  m.append(f);
  user.input.focus();
}

// ---- the VPS list and create ----

export function stateBadge(state, suspended) {
  return h('span', { class: `state s-${state}`, dataset: { state } }, suspended ? `${state} (suspended)` : state);
}

function usageCells(u, v) {
  if (!u) return [h('td', {}, '–'), h('td', {}, '–'), h('td', {}, '–'), h('td', {}, '–')];
  return [
    h('td', { class: 'num' }, `${cores(u.cpu)} / ${v.cpus}`),
    h('td', { class: 'num' }, `${bytes(u.mem)} / ${bytes(v.ram)}`),
    h('td', { class: 'num' }, `${bytes(u.disk)} / ${bytes(v.disk)}`),
    h('td', { class: 'num' }, `↓${rate(u.rx)} ↑${rate(u.tx)}`),
  ];
}

async function listView(m) {
  const admin = session.role === 'admin';
  const tbody = h('tbody');
  const list = h('section', { 'aria-labelledby': 'vps-h' },
    h('h1', { id: 'vps-h' }, admin ? 'All VPSes' : 'My VPSes'),
    h('table', { class: 'vps-list' },
      h('thead', {}, h('tr', {}, ['Name', 'State', 'CPU (cores)', 'Memory', 'Disk', 'Network', admin ? 'Owner' : null]
        .filter(Boolean).map((x) => h('th', { scope: 'col' }, x)))),
      tbody));
  m.append(list, await createForm(admin));

  async function refresh() {
    const all = await API.get('/vps');
    tbody.replaceChildren(
      ...(all.length ? all.map((v) =>
        h('tr', { dataset: { vps: v.name } },
          h('td', {}, h('a', { href: `#/vps/${v.name}` }, v.name), h('span', { class: 'muted' }, ` ${v.kind}`)),
          h('td', {}, stateBadge(v.state, v.suspended)),
          usageCells(v.usage, v),
          admin ? h('td', {}, v.owner || '–') : null))
        : [h('tr', {}, h('td', { colspan: admin ? 7 : 6, class: 'muted' }, 'No VPS yet.'))])
    );
  }
  await refresh();
  const t = setInterval(() => refresh().catch(() => {}), 5000);
  return () => clearInterval(t);
}

const KIND_WORDS = { ct: 'container', vm: 'virtual machine' };

async function createForm(admin) {
  const [plans, templates, users] = await Promise.all([
    API.get('/plans'),
    API.get('/templates'),
    admin ? API.get('/users').catch(() => []) : Promise.resolve(null),
  ]);
  const name = field('Name', { name: 'name', required: true, pattern: '[a-z0-9][a-z0-9\\-]{0,31}', title: 'a-z, 0-9 and -, up to 32', autocomplete: 'off' });
  // the kinds are the host's (GET /templates says each template's); only their wording is the panel's
  const kinds = [...new Set(templates.map((t) => t.kind))];
  const kind = select('Kind', kinds.map((k) => ({ value: k, text: KIND_WORDS[k] ? `${KIND_WORDS[k]} (${k})` : k })), { name: 'kind' });
  const plan = select('Plan', plans.map((p) => ({ value: p.name, text: `${p.name}: ${p.cpus} CPU, ${bytes(p.ram)} RAM, ${bytes(p.disk)} disk` })), { name: 'plan', required: true });
  const tmpl = select('Template', [], { name: 'template' });
  const pw = field('Root password', { name: 'root_password', type: 'password', autocomplete: 'new-password' });
  const owner = admin ? select('Owner', users.map((u) => u.name), { name: 'owner' }) : null;
  // the chosen plan's templates only ([]: every one), as vpsd would refuse the others (403)
  const offered = (t) => {
    const p = plans.find((x) => x.name === plan.input.value);
    return !p || !(p.templates || []).length || p.templates.includes(t.name);
  };
  const syncTemplates = () =>
    setOptions(tmpl.input, templates.filter((t) => t.kind === kind.input.value && offered(t)).map((t) => t.name));
  kind.input.addEventListener('change', syncTemplates);
  plan.input.addEventListener('change', syncTemplates);
  syncTemplates();

  const status = h('p', { class: 'muted', role: 'status' });
  return form({ class: 'card', 'aria-labelledby': 'create-h' }, [
    h('h2', { id: 'create-h' }, admin ? 'Create a VPS for a customer' : 'Create a VPS'),
    plans.length ? null : h('p', { class: 'muted' }, 'No plan exists yet' + (admin ? ': add one under Plans.' : '.')),
    h('div', { class: 'grid' }, name.row, kind.row, plan.row, tmpl.row, pw.row, owner && owner.row),
    h('button', { type: 'submit' }, 'Create'),
    status,
  ], async () => {
    const body = { name: name.input.value, kind: kind.input.value, plan: plan.input.value, template: tmpl.input.value };
    if (pw.input.value) body.root_password = pw.input.value;
    if (owner && owner.input.value) body.owner = owner.input.value;
    status.textContent = `creating ${body.name}…`;
    try {
      await API.operation('POST', '/vps', body);
    } finally {
      status.textContent = '';
    }
    flash(`created ${body.name}`, 'ok');
    location.hash = `#/vps/${body.name}`;
  });
}

// ---- start ----

window.addEventListener('hashchange', route);
(async () => {
  try {
    await API.whoami();
  } catch (e) {
    flash(e.message);
  }
  route();
})();
