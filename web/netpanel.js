// SPDX-License-Identifier: GPL-2.0-or-later
// A VPS's network cards on its page (docs/networks.md "Traffic",
// "Firewall"): this month's traffic against the plan's allowance and the
// months before; the firewall's default policies and rules, a rule added
// (at the end or before rule N) or deleted. The owner manages both; the
// rules live on the host, where the VPS's root cannot reach them.

import * as API from './api.js';
import { h, field, select, table, bytes, flash, busy, form } from './dom.js';

export async function trafficCard(name) {
  const body = h('div', { id: 'traffic' });
  const card = h('section', { class: 'card', 'aria-labelledby': 't-h' }, h('h2', { id: 't-h' }, 'Traffic'), body);
  let t;
  try {
    t = await API.get(`/vps/${name}/traffic`);
  } catch (e) {
    body.append(h('p', { class: 'muted' }, e.message));
    return card;
  }
  const used = t.allowance ? ` of ${bytes(t.allowance)} (${Math.min(100, (100 * t.total) / t.allowance).toFixed(1)}%)` : '';
  body.append(...[
    h('p', { id: 'traffic-month', dataset: { total: String(t.total) } },
      `${t.month}: ${bytes(t.total)}${used} — in ${bytes(t.rx)}, out ${bytes(t.tx)}`),
    t.allowance
      ? h('p', { class: 'muted' }, `Past the allowance the VPS is ${t.allowance_action === 'suspend' ? 'suspended' : 'throttled'} until the month ends.`)
      : h('p', { class: 'muted' }, 'Its plan has no monthly allowance.'),
    t.action ? h('p', { class: 'warn' }, `This month: ${t.action === 'suspend' ? 'suspended' : 'throttled'} (allowance used).`) : null,
    (t.months || []).length > 1
      ? table(['Month', 'In', 'Out', 'Action'], t.months.map((x) =>
        h('tr', {}, h('td', {}, x.month), h('td', {}, bytes(x.rx)), h('td', {}, bytes(x.tx)), h('td', {}, x.action || '–'))))
      : null].filter(Boolean)); // the DOM's append writes null out as text
  return card;
}

export async function firewallCard(name) {
  const card = h('section', { class: 'card', id: 'firewall', 'aria-labelledby': 'fw-h' }, h('h2', { id: 'fw-h' }, 'Firewall'));
  const list = table(['#', 'Direction', 'Action', 'Protocol', 'Port', 'Source', 'Destination', 'Comment', ''], []);
  const tbody = list.querySelector('tbody');
  const polIn = select('Default, incoming', ['accept', 'drop'], { name: 'policy_in' });
  const polOut = select('Default, outgoing', ['accept', 'drop'], { name: 'policy_out' });
  const path = `/vps/${name}/firewall`;

  async function refresh() {
    const fw = await API.get(path);
    polIn.input.value = fw.policy_in;
    polOut.input.value = fw.policy_out;
    tbody.replaceChildren(...fw.rules.map((r) => {
      const del = h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete firewall rule ${r.n}` }, 'Delete');
      del.addEventListener('click', () => busy(del, async () => {
        await API.del(`${path}/rules/${r.n}`);
        flash(`deleted rule ${r.n}`, 'ok');
        await refresh();
      }));
      return h('tr', { dataset: { n: String(r.n) } }, h('td', {}, r.n), h('td', {}, r.direction), h('td', {}, r.action),
        h('td', {}, r.proto || 'any'), h('td', {}, r.dport ?? '–'), h('td', {}, r.source || '–'),
        h('td', {}, r.destination || '–'), h('td', {}, r.comment || ''), h('td', {}, del));
    }));
    if (!fw.rules.length) tbody.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No rules: the defaults decide.')));
  }

  const policies = form({ 'aria-label': 'Firewall defaults' }, [h('div', { class: 'grid' }, polIn.row, polOut.row),
    h('button', { type: 'submit' }, 'Save defaults')], async () => {
    const fw = await API.get(path);
    await API.api('PUT', path, { policy_in: polIn.input.value, policy_out: polOut.input.value, rules: fw.rules });
    flash('firewall defaults saved', 'ok');
    await refresh();
  });
  const dir = select('Direction', ['in', 'out'], { name: 'direction' });
  const act = select('Action', ['accept', 'drop'], { name: 'action' });
  const proto = select('Protocol', ['any', 'tcp', 'udp', 'icmp', 'icmpv6'], { name: 'proto' });
  const port = field('Port', { name: 'dport', placeholder: '22 or 8000-8100' });
  const src = field('Source', { name: 'source', placeholder: 'any, or 198.51.100.0/24' });
  const dst = field('Destination', { name: 'destination', placeholder: 'any' });
  const note = field('Comment', { name: 'comment', maxlength: 64 });
  const add = form({ 'aria-label': 'Add firewall rule' }, [
    h('div', { class: 'grid' }, dir.row, act.row, proto.row, port.row, src.row, dst.row, note.row),
    h('button', { type: 'submit' }, 'Add rule')], async (el) => {
    const b = { direction: dir.input.value, action: act.input.value, proto: proto.input.value };
    if (port.input.value) b.dport = /^\d+$/.test(port.input.value) ? Number(port.input.value) : port.input.value;
    if (src.input.value) b.source = src.input.value;
    if (dst.input.value) b.destination = dst.input.value;
    if (note.input.value) b.comment = note.input.value;
    await API.post(`${path}/rules`, b);
    flash('rule added', 'ok');
    el.reset();
    await refresh();
  });
  card.append(
    h('p', { class: 'muted' }, 'First match wins; replies to the VPS’s own connections always pass. The rules live on the host: root inside cannot remove them.'),
    policies,
    list,
    add);
  try {
    await refresh();
  } catch (e) {
    card.replaceChildren(h('h2', { id: 'fw-h' }, 'Firewall'), h('p', { class: 'muted' }, e.message));
  }
  return card;
}
