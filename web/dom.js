// SPDX-License-Identifier: GPL-2.0-or-later
// Small DOM helpers for the panel: elements built with h() (text is always
// text, never parsed as HTML), labelled form fields, figures in human units,
// and the flash line that shows the API's messages.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let uid = 0;

// A labelled field: <label for=id>Text</label><input id=id ...>.
export function field(label, attrs = {}, tag = 'input') {
  const id = attrs.id || `f${++uid}`;
  const input = h(tag, { ...attrs, id });
  return { row: h('div', { class: 'field' }, h('label', { for: id }, label), input), input };
}

export function select(label, options, attrs = {}) {
  const f = field(label, attrs, 'select');
  setOptions(f.input, options);
  return f;
}

export function setOptions(sel, options) {
  sel.replaceChildren(
    ...options.map((o) =>
      typeof o === 'string' ? h('option', { value: o }, o) : h('option', { value: o.value }, o.text)
    )
  );
}

export function table(headers, rows, caption) {
  return h(
    'table',
    {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows)
  );
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
export function bytes(n) {
  if (n === null || n === undefined || isNaN(n)) return '–';
  let i = 0;
  n = Number(n);
  while (Math.abs(n) >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? +n.toPrecision(3) : Math.round(n)} ${UNITS[i]}`;
}

export const rate = (n) => (n === null || n === undefined ? '–' : bytes(n) + '/s');

export function cores(n) {
  if (n === null || n === undefined) return '–';
  n = Number(n);
  return Math.abs(n) >= 0.1 || n === 0 ? n.toFixed(2) : +n.toPrecision(2) + '';
}

export function when(t) {
  if (!t) return '–';
  const d = new Date(t * 1000);
  return d.toLocaleString(undefined, { hour12: false });
}

let flashTimer = null;

// Show a message (the API's, for errors) in the alert line.
export function flash(msg, kind = 'error') {
  const el = document.getElementById('flash');
  el.textContent = msg;
  el.className = `flash ${kind}`;
  el.hidden = false;
  clearTimeout(flashTimer);
  if (kind !== 'error') flashTimer = setTimeout(() => (el.hidden = true), 4000);
}

export function clearFlash() {
  const el = document.getElementById('flash');
  el.hidden = true;
}

// Run f(); a thrown error is shown; the button is disabled meanwhile.
export async function busy(button, f) {
  if (button) button.disabled = true;
  try {
    return await f();
  } catch (e) {
    flash(e.message);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// A form whose submit runs f(form); its submit button is disabled meanwhile.
export function form(attrs, children, f) {
  const el = h('form', attrs, children);
  el.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(el.querySelector('button[type=submit]'), () => f(el));
  });
  return el;
}
