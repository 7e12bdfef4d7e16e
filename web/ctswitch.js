// SPDX-License-Identifier: GPL-2.0-or-later
// A container's OpenVZ-style switches and disk limits on its page
// (docs/containers.md): TUN, FUSE and nesting (off unless set; they apply
// from the next start) and its disk's bytes/s and IOPS (live). The
// provider's to change: a customer's PATCH of them is a 403, so only an
// administrator sees the form; everyone sees the values in the details.

import * as API from './api.js';
import { session } from './api.js';
import { h, field, flash, form, bytes } from './dom.js';

const FEATURES = [['tun', 'TUN (a VPN inside)'], ['fuse', 'FUSE (sshfs and the like)'], ['nesting', 'Nesting (containers inside)']];
const LIMITS = [['io_read_bps', 'Read bytes/s'], ['io_write_bps', 'Write bytes/s'], ['io_read_iops', 'Read IOPS'], ['io_write_iops', 'Write IOPS']];

// Rows for the details list: [label, text]; none when nothing is set (a VM never has them).
export function switchRows(v) {
  const io = LIMITS.filter(([k]) => v[k]).map(([k, label]) => `${label.toLowerCase()} ${/bps/.test(k) ? bytes(v[k]) : v[k]}`);
  if (!(v.features || []).length && !io.length) return [];
  return [['Features', (v.features || []).join(', ') || 'none'], ['Disk limits', io.join(', ') || 'none']];
}

// The administrator's form, or null: a customer, or a kind whose features this host does not
// enforce (the host report's `limits` for the VPS's kind says; docs/policies.md).
export async function switchCard(path, v, reload) {
  if (session.role !== 'admin') return null;
  const rep = await API.get('/host').catch(() => null);
  if (!rep?.limits?.[v.kind]?.limits?.features?.enforced) return null;
  const boxes = FEATURES.map(([f, label]) => {
    const input = h('input', { type: 'checkbox', id: `feat-${f}`, name: f });
    input.checked = (v.features || []).includes(f);
    return { f, input, row: h('div', { class: 'check' }, input, h('label', { for: `feat-${f}` }, label)) };
  });
  const limits = LIMITS.map(([k, label]) => ({ k, ...field(label, { name: k, type: 'number', min: '0', step: '1', value: String(v[k] || 0) }) }));
  return form({ class: 'card', 'aria-labelledby': 'sw-h' }, [
    h('h2', { id: 'sw-h' }, 'Container switches'),
    h('p', { class: 'muted' }, 'Features apply from the next start; disk limits at once (0: none).'),
    ...boxes.map((b) => b.row),
    h('div', { class: 'grid' }, limits.map((l) => l.row)),
    h('button', { type: 'submit' }, 'Save switches'),
  ], async () => {
    const body = { features: boxes.filter((b) => b.input.checked).map((b) => b.f) };
    for (const l of limits) body[l.k] = Number(l.input.value || 0);
    await API.patch(path, body);
    flash('switches saved', 'ok');
    await reload();
  });
}
