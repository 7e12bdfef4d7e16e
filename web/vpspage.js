// SPDX-License-Identifier: GPL-2.0-or-later
// One VPS's page (docs/panel.md): its state and the lifecycle buttons (each
// an operation, polled), its settings (hostname, root password, reinstall,
// rescue mode),
// its addresses, graphs of its usage (uPlot, fed from GET .../usage), its
// console (xterm.js on the console WebSocket, raw bytes both ways) and, for a
// VM that boots its own firmware, its screen (noVNC on GET .../vnc, with
// Ctrl-Alt-Del, a "send text" box and its ISO: put one in, eject it).

import * as API from './api.js';
import { session } from './api.js';
import { h, field, select, setOptions, bytes, rate, cores, flash, busy, form, when } from './dom.js';
import { stateBadge } from './app.js';
import { trafficCard, firewallCard } from './netpanel.js';
import { switchRows, switchCard } from './ctswitch.js';
import { snapshotsCard, backupsCard } from './storage.js';

const enc = new TextEncoder();

export async function vpsView(m, name) {
  const path = `/vps/${name}`;
  let v = await API.get(path);
  let closed = false;
  const timers = [];

  // ---- state and actions ----
  const badge = h('span', { id: 'vps-state', role: 'status', 'aria-live': 'polite' });
  const opLine = h('span', { class: 'muted', id: 'vps-op' });
  const buttons = {};
  const act = (label, action, body, confirmText) => {
    const b = h('button', { type: 'button', 'aria-label': `${label} ${name}` }, label);
    b.addEventListener('click', () => {
      if (confirmText && !window.confirm(confirmText)) return;
      busy(b, () => runOp(label.toLowerCase(), action, body));
    });
    buttons[action + (body && body.force ? '-force' : '')] = b;
    return b;
  };
  async function runOp(what, action, body) {
    setButtons(true);
    opLine.textContent = `${what}…`;
    try {
      const r = await API.operation('POST', `${path}/${action}`, body, (op) => {
        opLine.textContent = `${what}: ${op.state}`;
      });
      if (r && r.state) show(r);
      else await reload();
      opLine.textContent = '';
    } catch (e) {
      opLine.textContent = '';
      await reload().catch(() => {});
      throw e;
    } finally {
      setButtons(false);
    }
  }
  const bar = h('div', { class: 'actions', role: 'group', 'aria-label': 'Power' },
    act('Start', 'start'),
    act('Stop', 'stop', { timeout: 30 }),
    act('Restart', 'restart'),
    act('Force off', 'stop', { force: true }, `Force off ${name}? Its processes are killed at once.`),
    opLine);

  function setButtons(running) {
    const s = v.state;
    buttons.start.disabled = running || s === 'running';
    buttons.stop.disabled = running || s !== 'running';
    buttons.restart.disabled = running || s !== 'running';
    buttons['stop-force'].disabled = running || s === 'stopped';
    rescueBtn.disabled = running || (s !== 'running' && s !== 'stopped');
  }

  // ---- details ----
  const details = h('dl', { class: 'details' });
  const hostname = field('Hostname', { name: 'hostname', autocomplete: 'off' });
  function show(nv) {
    v = nv;
    badge.replaceChildren(stateBadge(v.state, v.suspended));
    const rows = [
      ['Kind', `${v.kind} (${v.engine})`], ['Template', v.template || '–'], ['Owner', v.owner || '–'],
      ['CPUs', v.cpus], ['Memory', bytes(v.ram)], ['Swap', bytes(v.swap)], ['Disk', bytes(v.disk)],
      ['Hostname', v.hostname || '–'], ['Network', v.network || '–'], ['IPv4', v.ipv4 || '–'],
      ['IPv6', v.ipv6 || '–'], ['MAC', v.mac || '–'], ['Created', when(v.created)], ...switchRows(v),
    ];
    details.replaceChildren(...rows.flatMap(([k, x]) => [h('dt', {}, k), h('dd', { dataset: { k: k.toLowerCase() } }, String(x))]));
    if (document.activeElement !== hostname.input) hostname.input.value = v.hostname || '';
    showRescue();
    setButtons(false);
    if (v.state === 'running') term.connect();
    if (screen) screen.show(v);
  }
  const reload = async () => show(await API.get(path));

  // ---- settings ----
  const hostForm = form({ class: 'card', 'aria-labelledby': 'hn-h' }, [
    h('h2', { id: 'hn-h' }, 'Hostname'), hostname.row, h('button', { type: 'submit' }, 'Save hostname'),
  ], async () => {
    await API.patch(path, { hostname: hostname.input.value });
    flash('hostname saved', 'ok');
    await reload();
  });

  const newPw = field('New root password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true });
  const pwForm = form({ class: 'card', 'aria-labelledby': 'pw-h' }, [
    h('h2', { id: 'pw-h' }, 'Root password'), newPw.row, h('button', { type: 'submit' }, 'Reset root password'),
  ], async () => {
    await API.operation('POST', `${path}/password`, { password: newPw.input.value });
    newPw.input.value = '';
    flash('root password changed', 'ok');
  });

  const templates = await API.get('/templates').catch(() => []);
  const rtmpl = select('Reinstall template', templates.filter((t) => t.kind === v.kind).map((t) => t.name), { name: 'template' });
  rtmpl.input.value = v.template || '';
  const rpw = field('Root password after reinstall', { name: 'root_password', type: 'password', autocomplete: 'new-password' });
  const reForm = form({ class: 'card', 'aria-labelledby': 're-h' }, [
    h('h2', { id: 're-h' }, 'Reinstall'),
    h('p', { class: 'muted' }, 'A fresh disk from the template: everything on the disk is lost.'),
    rtmpl.row, rpw.row, h('button', { type: 'submit', class: 'danger' }, 'Reinstall'),
  ], async () => {
    if (!window.confirm(`Reinstall ${name} from ${rtmpl.input.value}? Its disk is erased.`)) return;
    const body = { template: rtmpl.input.value };
    if (rpw.input.value) body.root_password = rpw.input.value;
    await runOp('reinstall', 'reinstall', body);
    rpw.input.value = '';
    flash(`${name} reinstalled`, 'ok');
  });

  // ---- rescue mode (docs/rescue.md): a kind that has one shows `rescue` ----
  const rescueText = h('p', { id: 'rescue-state' });
  const rescueBtn = h('button', { type: 'button', id: 'rescue-toggle' });
  rescueBtn.addEventListener('click', () => {
    const on = !v.rescue;
    // the words are the kind's (GET /vps/NAME's rescue_system), not the panel's
    if (on && !window.confirm(`Boot ${name} into a rescue system: ${v.rescue_system}?` +
      (v.state === 'running' ? ' It is restarted now.' : ''))) return;
    busy(rescueBtn, async () => {
      await runOp(on ? 'rescue on' : 'rescue off', 'rescue', { on });
      flash(`rescue ${on ? 'on' : 'off'} for ${name}`, 'ok');
    });
  });
  function showRescue() {
    rescueText.textContent = v.rescue ?
      `On: ${name} boots a rescue system: ${v.rescue_system}.` :
      `Off: ${name} boots its own disk.`;
    rescueBtn.textContent = v.rescue ? 'Rescue mode off' : 'Rescue mode on';
    rescueBtn.setAttribute('aria-label', `${rescueBtn.textContent} for ${name}`);
  }
  const rescueCard = 'rescue' in v ? h('section', { class: 'card', id: 'rescue', 'aria-labelledby': 'rs-h' },
    h('h2', { id: 'rs-h' }, 'Rescue mode'), rescueText, rescueBtn) : null;

  // ---- graphs and console ----
  const graphs = new Graphs(name);
  const term = new Console(name);
  // a VM booting firmware (SeaBIOS, UEFI) has a screen; a kernel booted directly, a serial line
  const screen = v.boot === 'firmware' || v.boot === 'uefi' ? new Screen(name, await API.get('/isos').catch(() => [])) : null;

  m.append(...[
    h('div', { class: 'vps-head' }, h('h1', {}, name), badge),
    bar,
    h('div', { class: 'cols' },
      h('section', { class: 'card', 'aria-labelledby': 'd-h' }, h('h2', { id: 'd-h' }, 'Details'), details),
      h('div', {}, ...[hostForm, pwForm, reForm, rescueCard, await switchCard(path, v, reload)].filter(Boolean))),
    h('section', { class: 'card', 'aria-labelledby': 'g-h' }, h('h2', { id: 'g-h' }, 'Usage'), graphs.el),
    await trafficCard(name),
    await firewallCard(name),
    await snapshotsCard(name),
    await backupsCard(name),
    screen ? h('section', { class: 'card', 'aria-labelledby': 's-h' }, h('h2', { id: 's-h' }, 'Screen'), screen.el) : null,
    h('section', { class: 'card', 'aria-labelledby': 'c-h' }, h('h2', { id: 'c-h' }, 'Console'), term.el),
  ].filter(Boolean)); // no screen without firmware: the DOM's append would write null out as text
  show(v);
  await graphs.start();
  timers.push(setInterval(() => {
    if (!closed && !opLine.textContent) reload().catch(() => {});
  }, 3000));

  return () => {
    closed = true;
    timers.forEach(clearInterval);
    graphs.stop();
    term.close();
    if (screen) screen.close();
  };
}

// ---- usage graphs ----

const SERIES = [
  { key: 'cpu', title: 'CPU (cores)', fmt: cores, lines: [['cpu', 'CPU', '#1f6feb']] },
  { key: 'mem', title: 'Memory', fmt: bytes, lines: [['mem', 'memory', '#8250df']] },
  { key: 'disk', title: 'Disk', fmt: bytes, lines: [['disk', 'disk', '#bf8700']] },
  { key: 'net', title: 'Network', fmt: rate, lines: [['rx', 'in', '#1a7f37'], ['tx', 'out', '#cf222e']] },
];
const KEEP = 720; // points kept per graph (two hours at the default 10 s)
const SPANS = [['live', 'Live'], ['day', 'Day'], ['month', 'Month'], ['year', 'Year']];

class Graphs {
  constructor(name) {
    this.name = name;
    this.el = h('div', { class: 'graphs' });
    this.data = { time: [], cpu: [], mem: [], disk: [], rx: [], tx: [] };
    this.plots = [];
    this.since = Math.floor(Date.now() / 1000) - 3600;
    this.timer = null;
    this.span = 'live';
    this.boxes = SERIES.map((s) =>
      h('figure', { class: 'chart', id: `chart-${s.key}`, dataset: { points: '0' }, 'aria-label': `${s.title} over time` },
        h('figcaption', {}, s.title)));
    // the live samples, or the history's averages per minute, half hour or day (docs/usage.md)
    this.spanButtons = SPANS.map(([span, label]) =>
      h('button', { type: 'button', class: 'small', 'aria-pressed': span === 'live' ? 'true' : 'false', dataset: { span },
        onclick: () => this.setSpan(span) }, label));
    this.el.append(h('div', { class: 'spans', role: 'group', 'aria-label': 'Time span' }, this.spanButtons), ...this.boxes);
    this.onResize = () => this.resize();
  }

  async start() {
    let uPlot;
    try {
      uPlot = (await import('/vendor/uPlot.esm.js')).default;
    } catch (e) {
      this.el.append(h('p', { class: 'muted' }, `graphs unavailable: ${e.message} (run scripts/web-vendor)`));
      return;
    }
    this.plots = SERIES.map((s, i) => new uPlot({
      width: this.width(i), height: 150,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true } },
      axes: [{}, { size: 70, values: (u, vals) => vals.map((x) => s.fmt(x)) }],
      series: [{}, ...s.lines.map(([, label, stroke]) => ({ label, stroke, width: 1.5, value: (u, x) => s.fmt(x), fill: stroke + '22' }))],
    }, this.series(s), this.boxes[i]));
    window.addEventListener('resize', this.onResize);
    await this.poll();
  }

  series(s) {
    return [this.data.time, ...s.lines.map(([k]) => this.data[k])];
  }

  width(i) {
    return Math.max(240, this.boxes[i].clientWidth || 300);
  }

  resize() {
    this.plots.forEach((p, i) => p.setSize({ width: this.width(i), height: 150 }));
  }

  draw() {
    SERIES.forEach((s, i) => {
      this.plots[i].setData(this.series(s));
      this.boxes[i].dataset.points = String(this.data.time.length);
      this.boxes[i].dataset.span = this.span;
    });
  }

  async setSpan(span) {
    clearTimeout(this.timer);
    this.timer = null;
    this.span = span;
    this.spanButtons.forEach((b) => b.setAttribute('aria-pressed', b.dataset.span === span ? 'true' : 'false'));
    for (const k of Object.keys(this.data)) this.data[k].length = 0;
    if (span === 'live') {
      this.since = Math.floor(Date.now() / 1000) - 3600;
      await this.poll();
      return;
    }
    try {
      const u = await API.get(`/vps/${this.name}/usage?span=${span}`);
      if (this.span !== span) return; // another span was chosen meanwhile
      for (const x of u.samples) {
        this.data.time.push(x.time);
        for (const k of ['cpu', 'mem', 'disk', 'rx', 'tx']) this.data[k].push(x[k] ?? null);
      }
      this.draw();
    } catch (e) {
      if (e.status !== 401) flash(e.message);
    }
  }

  async poll() {
    if (this.span !== 'live') return;
    let interval = 10;
    try {
      const u = await API.get(`/vps/${this.name}/usage?since=${this.since}`);
      if (this.span !== 'live') return; // a history was chosen meanwhile
      interval = u.interval || interval;
      const d = this.data;
      for (const x of u.samples || []) {
        if (d.time.length && x.time <= d.time[d.time.length - 1]) continue;
        d.time.push(x.time);
        for (const k of ['cpu', 'mem', 'disk', 'rx', 'tx']) d[k].push(x[k] ?? null);
        this.since = x.time;
      }
      for (const k of Object.keys(d)) if (d[k].length > KEEP) d[k].splice(0, d[k].length - KEEP);
      this.draw();
    } catch (e) {
      if (e.status === 401) return;
    }
    this.timer = setTimeout(() => this.poll(), Math.max(1, interval) * 1000);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.poll = async () => {};
    window.removeEventListener('resize', this.onResize);
    this.plots.forEach((p) => p.destroy());
  }
}

// ---- console ----

class Console {
  constructor(name) {
    this.name = name;
    this.ws = null;
    this.term = null;
    this.closed = false;
    this.retry = null;
    this.status = h('span', { class: 'muted', id: 'console-status', role: 'status' }, 'not connected');
    this.screen = h('div', { id: 'console', class: 'term', 'aria-label': `Console of ${name}` });
    const again = h('button', { type: 'button' }, 'Reconnect console');
    again.addEventListener('click', () => {
      if (this.ws) this.ws.close();
      this.ws = null;
      this.connect();
    });
    this.el = h('div', {}, h('div', { class: 'actions' }, this.status, again), this.screen);
  }

  async load() {
    if (this.term) return this.term;
    const [{ Terminal }, { FitAddon }] = await Promise.all([
      import('/vendor/xterm.mjs'),
      import('/vendor/addon-fit.mjs'),
    ]);
    if (this.term) return this.term;
    const t = new Terminal({ cursorBlink: true, fontSize: 14, rows: 24, scrollback: 2000, fontFamily: 'ui-monospace, monospace' });
    const fit = new FitAddon();
    t.loadAddon(fit);
    t.open(this.screen);
    try {
      fit.fit();
    } catch {
      /* not laid out yet */
    }
    t.onData((s) => this.send(enc.encode(s)));
    t.onBinary((s) => this.send(Uint8Array.from(s, (c) => c.charCodeAt(0))));
    this.term = t;
    this.fit = fit;
    return t;
  }

  send(bytes) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  async connect() {
    if (this.closed || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    let t;
    try {
      t = await this.load();
    } catch (e) {
      this.status.textContent = `console unavailable: ${e.message} (run scripts/web-vendor)`;
      return;
    }
    if (this.closed || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/vps/${encodeURIComponent(this.name)}/console/ws`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.status.textContent = 'connecting…';
    this.screen.dataset.state = 'connecting';
    ws.onopen = () => {
      this.status.textContent = 'connected';
      this.screen.dataset.state = 'connected';
      t.focus();
    };
    ws.onmessage = (ev) => t.write(typeof ev.data === 'string' ? ev.data : new Uint8Array(ev.data));
    let opened = false;
    ws.addEventListener('open', () => (opened = true));
    ws.onclose = async () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.screen.dataset.state = 'closed';
      this.status.textContent = opened ? 'disconnected' : 'could not connect';
      // a refused handshake hides its status from scripts: ask the same URL plainly for the reason
      if (!opened) this.status.textContent = `could not connect: ${await this.reason()}`;
    };
  }

  async reason() {
    try {
      const r = await fetch(`/api/v1/vps/${encodeURIComponent(this.name)}/console/ws`, { credentials: 'same-origin' });
      const j = await r.json();
      const msg = (j && j.error && j.error.message) || `${r.status}`;
      return /WebSocket handshake/.test(msg) ? 'the connection was refused' : msg;
    } catch {
      return 'the connection was refused';
    }
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close();
    if (this.term) this.term.dispose();
  }
}

// ---- screen (noVNC) ----

const XK_RETURN = 0xff0d;
const XK_TAB = 0xff09;

class Screen {
  constructor(name, isos) {
    this.name = name;
    this.rfb = null;
    this.closed = false;
    this.status = h('span', { class: 'muted', id: 'screen-status', role: 'status' }, 'not connected');
    this.screen = h('div', { id: 'screen', class: 'screen', 'aria-label': `Screen of ${name}` });
    const cad = h('button', { type: 'button' }, 'Ctrl-Alt-Del');
    cad.addEventListener('click', () => this.rfb && this.rfb.sendCtrlAltDel());
    const again = h('button', { type: 'button' }, 'Reconnect screen');
    again.addEventListener('click', () => {
      if (this.rfb) this.rfb.disconnect();
      this.rfb = null;
      this.connect();
    });
    const text = field('Text to send', { name: 'screen-text', autocomplete: 'off' });
    const sendForm = form({ class: 'inline' }, [text.row, h('button', { type: 'submit' }, 'Send text')], async () => {
      await this.type(text.input.value);
      text.input.value = '';
    });
    // the ISO in the VM's CD drive: put one in, eject it (at once on a running VM)
    this.isoNow = h('span', { id: 'iso-now' }, '–');
    const pick = select('ISO', isos.map((i) => i.name), { name: 'iso' });
    const insert = h('button', { type: 'button' }, 'Insert ISO');
    insert.addEventListener('click', () => busy(insert, () => this.setIso(pick.input.value)));
    const eject = h('button', { type: 'button' }, 'Eject ISO');
    eject.addEventListener('click', () => busy(eject, () => this.setIso(null)));
    this.el = h('div', {},
      h('div', { class: 'actions' }, this.status, cad, again),
      this.screen, sendForm,
      h('div', { class: 'actions' }, h('span', {}, 'CD: '), this.isoNow, pick.row, insert, eject));
  }

  show(v) {
    this.isoNow.textContent = v.iso ? v.iso.split('/').pop().replace(/\.iso$/, '') : 'empty';
    if (v.state === 'running') this.connect();
  }

  async setIso(iso) {
    const r = await API.patch(`/vps/${this.name}`, { iso });
    this.show(r.vps);
    flash(iso ? `${iso} is in the CD drive${r.live ? '' : ' from the next start'}` : 'ISO ejected', 'ok');
  }

  async connect() {
    if (this.closed || this.rfb) return;
    let RFB;
    try {
      ({ default: RFB } = await import('/vendor/novnc/core/rfb.js'));
      this.keysyms = (await import('/vendor/novnc/core/input/keysymdef.js')).default;
    } catch (e) {
      this.status.textContent = `screen unavailable: ${e.message} (run scripts/web-vendor)`;
      return;
    }
    if (this.closed || this.rfb) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${proto}//${location.host}/api/v1/vps/${encodeURIComponent(this.name)}/vnc`;
    // the session cookie goes with the upgrade; vpsd checks it and the Origin
    const rfb = new RFB(this.screen, url, { wsProtocols: ['binary'], shared: true });
    rfb.scaleViewport = true;
    rfb.focusOnClick = true;
    this.rfb = rfb;
    this.status.textContent = 'connecting…';
    this.screen.dataset.state = 'connecting';
    rfb.addEventListener('connect', () => {
      this.status.textContent = 'connected';
      this.screen.dataset.state = 'connected';
    });
    rfb.addEventListener('disconnect', (e) => {
      if (this.rfb !== rfb) return;
      this.rfb = null;
      this.screen.dataset.state = 'closed';
      this.status.textContent = e.detail.clean ? 'disconnected' : 'could not connect (or the VM stopped)';
    });
  }

  // Each character as its key, down and up (the RFB server maps keysyms to the guest's keys)
  async type(s) {
    if (!this.rfb) throw new Error('the screen is not connected');
    for (const ch of s) {
      const cp = ch.codePointAt(0);
      const keysym = ch === '\n' ? XK_RETURN : ch === '\t' ? XK_TAB : this.keysyms.lookup(cp);
      this.rfb.sendKey(keysym, null);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close() {
    this.closed = true;
    if (this.rfb) this.rfb.disconnect();
    this.rfb = null;
  }
}
