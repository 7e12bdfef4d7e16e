// SPDX-License-Identifier: GPL-2.0-or-later
// The administrator's pages (docs/panel.md): the host report as a picture
// (capacity, the policy's limit, what is allocated and what is used, per
// resource), plans, users, IP pools (networks), the host's settings (who must
// log in with 2FA), the audit log; and the event log, which customers see too
// (their own VPSes' events).

import * as API from './api.js';
import { h, field, select, table, bytes, cores, flash, busy, form, when } from './dom.js';

export async function adminView(m, page) {
  return PAGES[page](m);
}

const PAGES = { host: hostView, plans: plansView, users: usersView, networks: networksView, settings: settingsView, audit: auditView };

// ---- host report ----

const RES = [
  ['memory', 'Memory', bytes],
  ['disk', 'Disk', bytes],
  ['cpus', 'CPUs', (x) => `${cores(x)} cores`],
];

const pct = (x, max) => `${Math.max(0, Math.min(100, (100 * (x || 0)) / max)).toFixed(2)}%`;

function bar(cls, x, max, label) {
  const el = h('div', { class: `bar ${cls}`, title: label });
  el.style.width = pct(x, max);
  return el;
}

function resourceCard(key, title, fmt, r) {
  const phys = r.physical || 0;
  const max = Math.max(phys, r.limit || 0, r.allocated || 0, r.used || 0) * 1.05 || 1;
  const ratio = phys ? (r.allocated || 0) / phys : 0;
  const mark = (cls, x, what) => {
    const el = h('div', { class: `mark ${cls}`, title: `${what} ${fmt(x)}` });
    el.style.left = pct(x, max);
    return el;
  };
  const marks = () => [mark('limit', r.limit, 'limit'), mark('physical', phys, 'capacity')];
  const cap = () => bar('cap', phys, max, `capacity ${fmt(phys)}`);
  const over = (r.allocated || 0) > (r.limit || 0) * (1 + 1e-9);
  const summary = `${title}: capacity ${fmt(phys)}, limit ${fmt(r.limit)}, allocated ${fmt(r.allocated)}, used ${fmt(r.used)}`;
  const rows = [
    ['Capacity', fmt(phys)],
    [`Limit (${r.policy}, ratio ${r.ratio})`, fmt(r.limit)],
    ['Allocated', fmt(r.allocated)],
    ['Used', fmt(r.used)],
    ['Headroom', fmt(r.headroom)],
    ['Sold / capacity', `${ratio.toFixed(2)}×`],
  ];
  if (key === 'memory' && r.used_by_vps !== undefined) rows.push(['Used by VPSes', fmt(r.used_by_vps)]);
  if (key === 'memory' && r.reclaim) rows.push(['Balloon reclaim', `${fmt(r.reclaim.taken)} from ${r.reclaim.vms} VM(s)`]);
  if (key === 'disk' && r.host_used !== undefined) rows.push(['Used on the filesystem', `${fmt(r.host_used)} (free ${fmt(r.free)})`]);
  return h('section', { class: `card res ${over ? 'over' : ''}`, id: `res-${key}`, 'aria-labelledby': `res-${key}-h`, dataset: { allocated: r.allocated, physical: phys, used: r.used, limit: r.limit } },
    h('h2', { id: `res-${key}-h` }, title, ' ', h('span', { class: 'ratio', title: 'allocated / capacity' }, `${ratio.toFixed(2)}× sold`)),
    h('div', { class: 'bars', role: 'img', 'aria-label': summary },
      h('div', { class: 'track' }, cap(), bar('alloc', r.allocated, max, `allocated ${fmt(r.allocated)}`), marks()),
      h('div', { class: 'track' }, cap(), bar('used', r.used, max, `used ${fmt(r.used)}`), marks())),
    h('div', { class: 'legend' },
      h('span', { class: 'k alloc' }, 'allocated'), h('span', { class: 'k used' }, 'used'),
      h('span', { class: 'k limit' }, 'policy limit'), h('span', { class: 'k physical' }, 'capacity')),
    h('dl', { class: 'figures' }, rows.flatMap(([k, x]) => [h('dt', {}, k), h('dd', {}, x)]))
  );
}

async function hostView(m) {
  const box = h('div', { id: 'host-report' });
  m.append(h('h1', {}, 'Host'), box);
  async function refresh() {
    const rep = await API.get('/host');
    const cards = RES.filter(([k]) => rep[k]).map(([k, title, fmt]) => resourceCard(k, title, fmt, rep[k]));
    const w = rep.warnings || [];
    const sw = rep.swap || {};
    box.replaceChildren(
      h('section', { class: 'card', 'aria-labelledby': 'warn-h' },
        h('h2', { id: 'warn-h' }, 'Warnings'),
        w.length ? h('ul', { class: 'warnings' }, w.map((x) => h('li', { class: /critical/.test(x) ? 'critical' : 'warning' }, x)))
          : h('p', { class: 'all-ok' }, 'None: everything is within its policy.')),
      h('div', { class: 'res-grid' }, cards),
      h('section', { class: 'card', 'aria-labelledby': 'misc-h' },
        h('h2', { id: 'misc-h' }, 'VPSes and swap'),
        h('dl', { class: 'figures' },
          h('dt', {}, 'VPSes'), h('dd', { id: 'vps-total' }, `${rep.vps ? rep.vps.total : 0} (${rep.vps ? rep.vps.running : 0} running)`),
          h('dt', {}, 'Swap'), h('dd', {}, `${bytes(sw.used)} used of ${bytes(sw.physical)}, ${bytes(sw.allocated)} allocated`)))
    );
  }
  await refresh();
  const t = setInterval(() => refresh().catch(() => {}), 10000);
  return () => clearInterval(t);
}

// ---- a list page: a table, delete buttons, an add form ----

async function listPage(m, { title, path, cols, key = 'name', noun, addTitle, fields, toBody, canDelete = true }) {
  const tbody = h('tbody');
  const wrap = h('section', { 'aria-labelledby': 'list-h' }, h('h1', { id: 'list-h' }, title),
    h('table', {}, h('thead', {}, h('tr', {}, [...cols.map(([c]) => h('th', { scope: 'col' }, c)), canDelete ? h('th', {}, '') : null])), tbody));
  async function refresh() {
    const rows = await API.get(path);
    tbody.replaceChildren(...rows.map((row) => {
      const del = canDelete && h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete ${noun} ${row[key]}` }, 'Delete');
      if (del)
        del.addEventListener('click', () => {
          if (!window.confirm(`Delete ${noun} ${row[key]}?`)) return;
          busy(del, async () => {
            await API.del(`${path}/${encodeURIComponent(row[key])}`);
            flash(`deleted ${noun} ${row[key]}`, 'ok');
            await refresh();
          });
        });
      return h('tr', { dataset: { name: row[key] } }, cols.map(([, f]) => h('td', {}, f(row))), del ? h('td', {}, del) : null);
    }));
    if (!rows.length) tbody.append(h('tr', {}, h('td', { colspan: cols.length + 1, class: 'muted' }, 'None yet.')));
  }
  const fs = fields();
  const add = form({ class: 'card', 'aria-labelledby': 'add-h' }, [
    h('h2', { id: 'add-h' }, addTitle), h('div', { class: 'grid' }, fs.map((x) => x.row)), h('button', { type: 'submit' }, addTitle),
  ], async (el) => {
    const body = toBody(fs);
    await API.post(path, body);
    flash(`added ${noun} ${body.name}`, 'ok');
    el.reset();
    await refresh();
  });
  m.append(wrap, add);
  await refresh();
}

function plansView(m) {
  return listPage(m, {
    title: 'Plans', path: '/plans', noun: 'plan', addTitle: 'Add plan',
    cols: [['Name', (p) => p.name], ['CPUs', (p) => p.cpus], ['Memory', (p) => bytes(p.ram)], ['Swap', (p) => bytes(p.swap)],
      ['Disk', (p) => bytes(p.disk)], ['I/O weight', (p) => p.io_weight || '–'], ['Bandwidth', (p) => (p.bw ? bytes(p.bw) + '/s' : '–')],
      ['Processes', (p) => p.pids || 'host default']],
    fields: () => [
      field('Plan name', { name: 'name', required: true, autocomplete: 'off' }),
      field('CPUs', { name: 'cpus', type: 'number', min: '0.1', step: '0.1', value: '1', required: true }),
      field('Memory', { name: 'ram', placeholder: '512M', required: true }),
      field('Swap', { name: 'swap', placeholder: '0' }),
      field('Disk', { name: 'disk', placeholder: '10G', required: true }),
      field('Bandwidth', { name: 'bw', placeholder: '100M (bytes/s)' }),
      field('Processes (containers)', { name: 'pids', type: 'number', min: '16', step: '1', placeholder: 'host default' }),
    ],
    toBody: ([name, cpus, ram, swap, disk, bw, pids]) => {
      const b = { name: name.input.value, cpus: Number(cpus.input.value), ram: ram.input.value, disk: disk.input.value };
      if (swap.input.value) b.swap = swap.input.value;
      if (bw.input.value) b.bw = bw.input.value;
      if (pids.input.value) b.pids = Number(pids.input.value);
      return b;
    },
  });
}

// A user's quota (docs/auth.md): [key, label, is a size]; empty: no limit.
const QUOTA = [['vps', 'VPSes'], ['ram', 'RAM', true], ['disk', 'disk', true], ['cpus', 'CPUs'],
  ['addresses', 'addresses'], ['backups', 'backups']];

// "512M", "4G", "1T" (binary) or plain bytes; NaN for anything else.
function sizeBytes(s) {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(s.trim());
  return m ? Math.round(Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase())) : NaN;
}

// A size as it can be typed back: 1073741824 -> "1G"; whole bytes otherwise.
function sizeText(x) {
  for (const [i, u] of [[4, 'T'], [3, 'G'], [2, 'M'], [1, 'K']]) if (x && x % 1024 ** i === 0) return `${x / 1024 ** i}${u}`;
  return String(x);
}

// The quota fields' figures; a figure that is not one goes to the API as typed, so that the
// refusal shown is the API's, naming the field (`quota.ram`). Empty: no limit.
function quotaBody(fs) {
  const q = {};
  QUOTA.forEach(([k, , size], i) => {
    const s = fs[i].input.value.trim();
    if (!s) return;
    const x = size ? sizeBytes(s) : /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
    q[k] = Number.isFinite(x) ? x : s;
  });
  return q;
}

// A user's quota in its row, with an edit form of its own: PATCH /users/NAME {"quota"} (the
// object replaces the quota, docs/auth.md); the row shows what the API answered.
function quotaCell(u) {
  const text = h('span', { class: 'quota-text' }, quotaText(u.quota));
  const edit = h('button', { type: 'button', class: 'small', 'aria-label': `Edit quota of ${u.name}`, 'aria-expanded': 'false' }, 'Edit');
  const value = (k, size) => (u.quota && u.quota[k] !== undefined && u.quota[k] !== null ? (size ? sizeText(u.quota[k]) : String(u.quota[k])) : '');
  const fs = QUOTA.map(([k, label, size]) => field(label, { name: `quota-${k}`, value: value(k, size), placeholder: size ? 'no limit, or 4G' : 'no limit' }));
  const toggle = (open) => {
    f.hidden = !open;
    edit.setAttribute('aria-expanded', String(open));
  };
  const f = form({ class: 'quota-edit', 'aria-label': `Quota of ${u.name}`, hidden: true }, [
    h('div', { class: 'grid' }, fs.map((x) => x.row)), h('button', { type: 'submit' }, 'Save quota'),
  ], async () => {
    const got = await API.patch(`/users/${encodeURIComponent(u.name)}`, { quota: quotaBody(fs) });
    u.quota = got.quota;
    text.textContent = quotaText(got.quota);
    toggle(false);
    flash(`quota of ${u.name}: ${quotaText(got.quota)}`, 'ok');
  });
  edit.addEventListener('click', () => toggle(f.hidden));
  return h('div', {}, text, ' ', edit, f);
}

function quotaText(q) {
  const parts = QUOTA.filter(([k]) => q && q[k] !== undefined && q[k] !== null)
    .map(([k, label, size]) => `${label} ${size ? bytes(q[k]) : q[k]}`);
  return parts.join(', ') || 'none';
}

function usersView(m) {
  return listPage(m, {
    title: 'Users', path: '/users', noun: 'user', addTitle: 'Add user',
    cols: [['Name', (u) => u.name], ['Role', (u) => u.role], ['2FA', (u) => (u['2fa'] ? 'on' : 'off')],
      ['Quota', quotaCell], ['Created', (u) => when(u.created)]],
    fields: () => [
      field('User name', { name: 'name', required: true, autocomplete: 'off' }),
      field('Password', { name: 'password', type: 'password', minlength: '8', required: true, autocomplete: 'new-password' }),
      select('Role', ['customer', 'admin'], { name: 'role' }),
      ...QUOTA.map(([k, label, size]) => field(`Quota: ${label}`, { name: `quota-${k}`, placeholder: size ? 'no limit, or 4G' : 'no limit' })),
    ],
    toBody: ([name, pw, role, ...quota]) => {
      const b = { name: name.input.value, password: pw.input.value, role: role.input.value };
      const q = {};
      QUOTA.forEach(([k, label, size], i) => {
        const s = quota[i].input.value.trim();
        if (!s) return;
        const x = size ? sizeBytes(s) : Number(s);
        if (!Number.isFinite(x) || x < 0) throw new Error(`Quota: ${label}: \`${s}\` is not ${size ? 'a size' : 'a number'}`);
        q[k] = x;
      });
      if (Object.keys(q).length) b.quota = q;
      return b;
    },
  });
}

function networksView(m) {
  return listPage(m, {
    title: 'IP pools (networks)', path: '/networks', noun: 'network', addTitle: 'Add network',
    cols: [['Name', (n) => n.name], ['Bridge', (n) => n.bridge], ['IPv4', (n) => n.ipv4 || '–'], ['IPv6', (n) => n.ipv6 || '–'],
      ['NAT', (n) => (n.nat ? 'yes' : 'no')], ['VLAN', (n) => (n.vlan ? `${n.vlan} on ${n.parent}` : '–')]],
    fields: () => [
      field('Network name', { name: 'name', required: true, autocomplete: 'off' }),
      field('IPv4 prefix', { name: 'ipv4', placeholder: '10.10.0.0/24' }),
      field('IPv6 prefix', { name: 'ipv6', placeholder: 'fd00:10::/64' }),
      field('NAT', { name: 'nat', type: 'checkbox', checked: true }),
      field('VLAN id', { name: 'vlan', placeholder: '1 to 4094 (none)', inputmode: 'numeric' }),
      field('VLAN parent device', { name: 'parent', placeholder: 'eth0', autocomplete: 'off' }),
    ],
    toBody: ([name, v4, v6, nat, vlan, parent]) => {
      const b = { name: name.input.value, nat: nat.input.checked };
      if (v4.input.value) b.ipv4 = v4.input.value;
      if (v6.input.value) b.ipv6 = v6.input.value;
      // a figure the API refuses is sent as typed: its message names the field
      if (vlan.input.value) b.vlan = /^\d+$/.test(vlan.input.value) ? Number(vlan.input.value) : vlan.input.value;
      if (parent.input.value) b.parent = parent.input.value;
      return b;
    },
  });
}

// ---- settings (GET and PATCH /settings; in a cluster, every node's) ----

const REQUIRE_2FA = [
  { value: 'none', text: 'Nobody (each user chooses)' },
  { value: 'admins', text: 'Administrators' },
  { value: 'all', text: 'Everyone' },
];

async function settingsView(m) {
  const [cur, me] = await Promise.all([API.get('/settings'), API.get('/me')]);
  const who = select('Two-factor login required of', REQUIRE_2FA, { name: 'require_2fa' });
  who.input.value = cur.require_2fa;
  const now = h('p', { id: 'require-2fa-now' });
  const show = (s) => now.replaceChildren('Now: ', h('strong', {}, REQUIRE_2FA.find((o) => o.value === s.require_2fa)?.text || s.require_2fa), '.');
  // an administrator without a second factor who requires one of admins: their own session too
  const mine = (v) => !me['2fa'] && (v === 'all' || v === 'admins');
  const warn = h('p', { id: 'require-2fa-self', class: 'warn', hidden: true },
    'You have no second factor yourself: once saved, your session can only turn it on (Account) until you do.');
  who.input.addEventListener('change', () => (warn.hidden = !mine(who.input.value)));
  show(cur);
  const f = form({ class: 'card', id: 'settings-form', 'aria-labelledby': 'settings-2fa-h' }, [
    h('h2', { id: 'settings-2fa-h' }, 'Two-factor login'),
    h('p', { class: 'muted' }, 'A user it names who has no second factor yet can, after logging in, only enrol one (Account). API tokens are unaffected. In a cluster this holds on every node.'),
    now, h('div', { class: 'grid' }, who.row), warn, h('button', { type: 'submit' }, 'Save'),
  ], async () => {
    const s = await API.patch('/settings', { require_2fa: who.input.value });
    show(s);
    flash(`two-factor login now required of: ${s.require_2fa}`, 'ok');
    if (mine(s.require_2fa)) location.hash = '#/account';
  });
  m.append(h('h1', {}, 'Settings'), f);
}

// ---- logs ----

async function auditView(m) {
  const rows = await API.get('/audit?limit=500');
  rows.sort((a, b) => b.id - a.id);
  m.append(h('h1', {}, 'Audit log'),
    table(['Time', 'User', 'Source', 'Request', 'Status'], rows.map((r) =>
      h('tr', { class: r.status >= 400 ? 'failed' : '' }, h('td', {}, when(r.time)), h('td', {}, r.user || '–'), h('td', {}, r.source || '–'),
        h('td', { class: 'mono' }, `${r.method} ${r.path}`), h('td', {}, r.status))), 'Every change and every login attempt, newest first'));
}

export async function eventsView(m) {
  const tbody = h('tbody');
  const filter = field('Filter by VPS', { name: 'vps', type: 'search', autocomplete: 'off' });
  let events = [];
  let last = 0;
  function render() {
    const f = filter.input.value.trim();
    const shown = events.filter((e) => !f || (e.vps || '').includes(f)).slice(-300).reverse();
    tbody.replaceChildren(...shown.map((e) => h('tr', {}, h('td', {}, when(e.time)), h('td', {}, e.vps || '–'), h('td', {}, e.kind), h('td', {}, e.message))));
  }
  async function more() {
    for (let i = 0; i < 20; i++) {
      const page = await API.get(`/events?after=${last}&limit=1000`);
      if (!page.length) break;
      events.push(...page);
      last = page[page.length - 1].id;
      if (events.length > 5000) events = events.slice(-5000);
      if (page.length < 1000) break;
    }
    render();
  }
  filter.input.addEventListener('input', render);
  m.append(h('h1', {}, 'Events'), filter.row,
    h('table', {}, h('thead', {}, h('tr', {}, ['Time', 'VPS', 'Event', 'Message'].map((x) => h('th', { scope: 'col' }, x)))), tbody));
  await more();
  const t = setInterval(() => more().catch(() => {}), 5000);
  return () => clearInterval(t);
}
