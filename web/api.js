// SPDX-License-Identifier: GPL-2.0-or-later
// The panel's client of the REST API (docs/vpsd.md, docs/panel.md): same-origin
// fetches with the session cookie, the CSRF token on every non-GET, errors
// thrown with the API's own message, and long actions as operations polled
// until they end.

export const session = { user: null, role: null, csrf: null };

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Called with the error when a request answers 401: the session is gone.
let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(f) {
  onUnauthenticated = f;
}

export async function api(method, path, body) {
  const opt = { method, credentials: 'same-origin', headers: {} };
  if (method !== 'GET' && method !== 'HEAD') opt.headers['X-CSRF-Token'] = session.csrf || '';
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch('/api/v1' + path, opt);
  } catch (e) {
    throw new ApiError(0, 'network', `cannot reach the server: ${e.message}`);
  }
  const text = await r.text();
  let j = null;
  try {
    j = text ? JSON.parse(text) : null;
  } catch {
    j = null;
  }
  if (!r.ok) {
    const err = j && j.error ? j.error : {};
    let msg = err.message || `${r.status} ${r.statusText}`;
    if (r.status === 429 && r.headers.get('Retry-After'))
      msg += ` (try again in ${r.headers.get('Retry-After')} s)`;
    const e = new ApiError(r.status, err.code || String(r.status), msg);
    if (r.status === 401 && path !== '/login') onUnauthenticated(e);
    throw e;
  }
  return j;
}

export const get = (p) => api('GET', p);
export const post = (p, b) => api('POST', p, b === undefined ? {} : b);
export const patch = (p, b) => api('PATCH', p, b);
export const del = (p) => api('DELETE', p);

// totp: the authenticator's code (or a recovery code), for a user with two-factor login.
export async function login(user, password, totp) {
  const j = await api('POST', '/login', totp ? { user, password, totp } : { user, password });
  session.user = j.user.name;
  session.role = j.user.role;
  session.csrf = j.csrf;
  return j;
}

export async function logout() {
  try {
    await api('POST', '/logout', {});
  } finally {
    session.user = session.role = session.csrf = null;
  }
}

// Who the cookie says we are, or null.
export async function whoami() {
  try {
    const j = await get('/me');
    session.user = j.name;
    session.role = j.role;
    session.csrf = j.csrf || null;
    return j;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// POST path?async=1 (or DELETE): the operation, polled until it is done;
// resolves with its result, rejects with its error. A server that answers
// synchronously (200/201) gives its body at once. onState(op) sees each poll.
export async function operation(method, path, body, onState) {
  const sep = path.includes('?') ? '&' : '?';
  const j = await api(method, path + sep + 'async=1', body);
  if (!j || !j.operation) return j;
  let op = j.operation;
  let wait = 200;
  while (op.state === 'running') {
    if (onState) onState(op);
    await sleep(wait);
    wait = Math.min(wait * 1.5, 1000);
    op = await get(`/operations/${encodeURIComponent(op.id)}`);
  }
  if (onState) onState(op);
  if (op.state === 'failed') {
    const e = op.error || {};
    throw new ApiError(0, e.code || 'failed', e.message || `${op.action} failed`);
  }
  return op.result;
}
