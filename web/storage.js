// SPDX-License-Identifier: GPL-2.0-or-later
// A VPS's storage cards on its page (docs/storage.md "Snapshots",
// docs/backups.md): its snapshots, taken, reverted to and deleted; its
// backups in the host's restic repositories, made now (an operation whose
// progress is shown), restored and deleted, and the daily schedule that makes
// them. The owner manages both; a host without a repository answers the
// backup routes with an error, which the card shows in place.

import * as API from './api.js';
import { h, field, table, bytes, flash, busy, form, when } from './dom.js';

export async function snapshotsCard(name) {
  const card = h('section', { class: 'card', id: 'snapshots', 'aria-labelledby': 'sn-h' }, h('h2', { id: 'sn-h' }, 'Snapshots'));
  const list = table(['Name', 'Created', 'Size', ''], []);
  const tbody = list.querySelector('tbody');
  const path = `/vps/${name}/snapshots`;

  async function refresh() {
    const snaps = await API.get(path);
    tbody.replaceChildren(...snaps.map((s) => {
      const at = `${path}/${encodeURIComponent(s.name)}`;
      const rev = h('button', { type: 'button', class: 'small', 'aria-label': `Revert snapshot ${s.name}` }, 'Revert');
      rev.addEventListener('click', () => busy(rev, async () => {
        if (!window.confirm(`Revert ${name} to snapshot ${s.name}? Its disks go back to then; what was written since is lost.`)) return;
        await API.post(`${at}/revert`);
        flash(`${name} reverted to ${s.name}`, 'ok');
        await refresh();
      }));
      const del = h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete snapshot ${s.name}` }, 'Delete');
      del.addEventListener('click', () => busy(del, async () => {
        await API.del(at);
        flash(`snapshot ${s.name} deleted`, 'ok');
        await refresh();
      }));
      return h('tr', { dataset: { snap: s.name } }, h('td', {}, s.name), h('td', {}, when(s.created)),
        h('td', {}, bytes(s.size)), h('td', {}, rev, ' ', del));
    }));
    if (!snaps.length) tbody.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No snapshots.')));
  }

  const sname = field('Snapshot name', { name: 'snapshot', required: true, maxlength: 64, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]*', placeholder: 'before-upgrade' });
  const take = form({ 'aria-label': 'Take snapshot' }, [sname.row, h('button', { type: 'submit' }, 'Take snapshot')], async (el) => {
    const s = await API.post(path, { name: sname.input.value });
    flash(`snapshot ${s.name} taken (${bytes(s.size)})`, 'ok');
    el.reset();
    await refresh();
  });
  card.append(
    h('p', { class: 'muted' }, 'A snapshot is a copy of every disk and the settings, kept on this host. A running VPS is frozen for the copy.'),
    list,
    take);
  try {
    await refresh();
  } catch (e) {
    card.replaceChildren(h('h2', { id: 'sn-h' }, 'Snapshots'), h('p', { class: 'muted' }, e.message));
  }
  return card;
}

// restic's RFC 3339 time in the panel's local form
const at = (t) => (t && !isNaN(Date.parse(t)) ? when(Date.parse(t) / 1000) : t || '–');

export async function backupsCard(name) {
  const card = h('section', { class: 'card', id: 'backups', 'aria-labelledby': 'bk-h' }, h('h2', { id: 'bk-h' }, 'Backups'));
  const list = table(['ID', 'Time', 'Size', ''], []);
  const tbody = list.querySelector('tbody');
  const path = `/vps/${name}/backups`;
  const spath = `/vps/${name}/backup-schedule`;
  const progress = h('span', { id: 'backup-progress', role: 'status', 'aria-live': 'polite' });
  const problem = h('p', { class: 'warn', id: 'backup-problem', role: 'alert', hidden: true });

  async function refresh() {
    const bks = await API.get(path);
    tbody.replaceChildren(...bks.map((b) => {
      const one = `${path}/${encodeURIComponent(b.id)}`;
      const res = h('button', { type: 'button', class: 'small', 'aria-label': `Restore backup ${b.id}` }, 'Restore');
      res.addEventListener('click', () => busy(res, async () => {
        if (!window.confirm(`Restore ${name} from backup ${b.id}? Its disks are replaced by the backup's.`)) return;
        await API.operation('POST', `${one}/restore`, {}, (op) => {
          progress.textContent = op.state === 'running' ? `restoring ${b.id}: ${op.progress ?? 0}%` : '';
        });
        flash(`${name} restored from ${b.id}`, 'ok');
        await refresh();
      }));
      const del = h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete backup ${b.id}` }, 'Delete');
      del.addEventListener('click', () => busy(del, async () => {
        await API.del(one);
        flash(`backup ${b.id} deleted`, 'ok');
        await refresh();
      }));
      return h('tr', { dataset: { backup: b.id } }, h('td', {}, h('code', {}, b.id)), h('td', {}, at(b.time)),
        h('td', {}, bytes(b.size)), h('td', {}, res, ' ', del));
    }));
    if (!bks.length) tbody.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No backups.')));
  }

  const now = h('button', { type: 'button' }, 'Back up now');
  now.addEventListener('click', () => busy(now, async () => {
    progress.textContent = 'backing up: 0%';
    try {
      const r = await API.operation('POST', path, {}, (op) => {
        if (op.state === 'running') progress.textContent = `backing up: ${op.progress ?? 0}%`;
      });
      flash(`backup ${r.id} made: ${bytes(r.size)} read, ${bytes(r.added)} added`, 'ok');
    } catch (e) {
      // no repository on this host, say: said in the card, where the button is
      problem.textContent = e.message;
      problem.hidden = false;
      return;
    } finally {
      progress.textContent = '';
    }
    problem.hidden = true;
    list.hidden = false;
    await refresh();
  }));

  // the schedule: daily at HH:MM (UTC) with restic's keep-daily and keep-weekly
  const sched = h('p', { id: 'backup-schedule' });
  const daily = field('Daily at (UTC)', { name: 'daily', type: 'time', required: true, value: '03:00' });
  const kd = field('Keep daily', { name: 'keep_daily', type: 'number', min: 0, max: 1000, value: '7' });
  const kw = field('Keep weekly', { name: 'keep_weekly', type: 'number', min: 0, max: 1000, value: '4' });
  const remove = h('button', { type: 'button', class: 'danger' }, 'Remove schedule');

  function showSchedule(s) {
    remove.hidden = !s;
    if (!s) {
      sched.textContent = 'No schedule: backups are made only when asked.';
      return;
    }
    const how = s.daily ? `daily at ${s.daily} UTC` : `every ${s.every} s`;
    sched.textContent = `Scheduled ${how} to ${s.repo}, keeping ${s.keep_daily} daily and ${s.keep_weekly} weekly; next ${s.next ? at(s.next) : '–'}.`;
    if (s.daily) daily.input.value = s.daily;
    kd.input.value = String(s.keep_daily);
    kw.input.value = String(s.keep_weekly);
  }
  async function loadSchedule() {
    try {
      showSchedule(await API.get(spath));
    } catch (e) {
      if (e.status !== 404) throw e;
      showSchedule(null);
    }
  }
  const schedForm = form({ 'aria-label': 'Backup schedule' }, [h('div', { class: 'grid' }, daily.row, kd.row, kw.row),
    h('button', { type: 'submit' }, 'Save schedule'), ' ', remove], async () => {
    const s = await API.api('PUT', spath, { daily: daily.input.value.slice(0, 5), keep_daily: Number(kd.input.value),
      keep_weekly: Number(kw.input.value) });
    showSchedule(s);
    flash('backup schedule saved', 'ok');
  });
  remove.addEventListener('click', () => busy(remove, async () => {
    await API.del(spath);
    showSchedule(null);
    flash('backup schedule removed', 'ok');
  }));

  card.append(
    h('p', { class: 'muted' }, 'A backup is a copy of the disks and settings sent to the host’s backup repository, off this VPS’s own storage. A running VPS runs on meanwhile.'),
    problem,
    list,
    h('div', {}, now, ' ', progress),
    h('h3', {}, 'Schedule'),
    sched,
    schedForm);
  try {
    await refresh();
    await loadSchedule();
  } catch (e) {
    // no repository on this host, or the backups' node is another: say so in the card
    problem.textContent = e.message;
    problem.hidden = false;
    list.hidden = true;
  }
  return card;
}
