// The API client: every call to /api goes through here.
//
// - The access token lives in this module's memory only (never localStorage,
//   sessionStorage or a readable cookie). A reload loses it; the HttpOnly refresh
//   cookie (Path=/api/auth, SameSite=Strict) gets a new one.
// - A 401 on an authenticated call triggers one refresh and one retry; if that
//   fails too, the session is over and `onSessionEnded` listeners hear why.
// - Refreshes are single-flight in this tab and serialised across tabs with the
//   Web Locks API: the backend rotates the refresh token on every use and treats
//   a second use of an old one as theft, so two tabs must never refresh at once.
// - Errors are ApiError objects with a message a person can read.

const BASE = "/api";
const TIMEOUT_MS = 15000;

let accessToken = null;
let expiresAt = 0; // ms since epoch, by this browser's clock
let refreshTimer = 0;
let refreshing = null;

const sessionEndedListeners = new Set();
const activityListeners = new Set();
let inFlight = 0;

export class ApiError extends Error {
  /**
   * kind: "http" (the API answered with an error), "network" (no answer),
   * "timeout", or "unavailable" (a proxy answered instead of the API: 502/503/504).
   */
  constructor({ kind, status = 0, code = "", message, fields = [], retryAfter = 0 }) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }

  get unreachable() {
    return this.kind === "network" || this.kind === "timeout" || this.kind === "unavailable";
  }

  /** A short statement of what happened, for places that add their own advice. */
  get brief() {
    if (this.kind === "network") return "The server did not answer. Check your connection.";
    if (this.kind === "timeout") return "The server took too long to answer.";
    if (this.kind === "unavailable") return `The server did not answer (HTTP ${this.status}).`;
    return this.message;
  }
}

/** Listen for the end of the session: fn({ code, message }). */
export function onSessionEnded(fn) {
  sessionEndedListeners.add(fn);
}

/** Listen for request activity: fn(numberOfRequestsInFlight). */
export function onActivity(fn) {
  activityListeners.add(fn);
}

export function hasToken() {
  return accessToken !== null;
}

function setActivity(delta) {
  inFlight += delta;
  for (const fn of activityListeners) fn(inFlight);
}

function seconds(n) {
  if (n < 60) return `${n} second${n === 1 ? "" : "s"}`;
  const minutes = Math.ceil(n / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

export function waitText(retryAfter) {
  return seconds(Math.max(1, retryAfter));
}

async function send(method, path, { body, token, json = body !== undefined } = {}) {
  const headers = { Accept: "application/json" };
  if (json) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  setActivity(+1);
  try {
    return await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      signal: controller.signal,
    });
  } catch (err) {
    if (err && err.name === "AbortError") {
      throw new ApiError({
        kind: "timeout",
        message: "The server took too long to answer. Please try again.",
      });
    }
    throw new ApiError({
      kind: "network",
      message: "The server can't be reached. Check your connection and try again.",
    });
  } finally {
    clearTimeout(timer);
    setActivity(-1);
  }
}

async function readJson(response) {
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("application/json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

async function errorFrom(response) {
  const data = await readJson(response);
  const status = response.status;
  const retryAfter = parseInt(response.headers.get("Retry-After") || "0", 10) || 0;
  const error = data && data.error;
  if (!error) {
    // Not the API's error shape: nginx or another proxy answered for it.
    if (status === 502 || status === 503 || status === 504) {
      return new ApiError({
        kind: "unavailable",
        status,
        message: `The server is not answering right now (HTTP ${status}). Please try again in a moment.`,
      });
    }
    return new ApiError({
      kind: "http",
      status,
      message: `Something went wrong on the server (HTTP ${status}). Please try again.`,
    });
  }
  let message = error.message || `Request failed (HTTP ${status}).`;
  if (status === 429) {
    message = `Too many attempts. Please wait ${waitText(retryAfter || 1)} and try again.`;
  } else if (status >= 500) {
    message = `${message} (HTTP ${status})`;
  }
  return new ApiError({
    kind: status === 503 ? "unavailable" : "http",
    status,
    code: error.code || "",
    message,
    fields: Array.isArray(error.fields) ? error.fields : [],
    retryAfter,
  });
}

async function parse(response) {
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  return readJson(response);
}

// -- tokens and refresh -------------------------------------------------------------------

function setToken(data) {
  accessToken = data.access_token;
  const ttl = Math.max(30, Number(data.expires_in) || 900);
  expiresAt = Date.now() + ttl * 1000;
  clearTimeout(refreshTimer);
  // Refresh a minute before expiry (a quarter of the lifetime for short-lived tokens).
  const lead = Math.min(60, ttl / 4);
  refreshTimer = setTimeout(backgroundRefresh, (ttl - lead) * 1000);
}

function clearToken() {
  accessToken = null;
  expiresAt = 0;
  clearTimeout(refreshTimer);
}

function endSession(code, message) {
  const wasSignedIn = accessToken !== null;
  clearToken();
  for (const fn of sessionEndedListeners) fn({ code, message, wasSignedIn });
}

function sessionMessage(err) {
  if (err.code === "refresh_token_reused") {
    return "Your session was ended for safety: an old sign-in token was used again, which can mean someone copied it. Please sign in again, and change your password if you did not expect this.";
  }
  return ENDED;
}

const ENDED =
  "Your session has ended: you signed out elsewhere, changed your password, or were away for a long time. Please sign in again.";

async function backgroundRefresh() {
  try {
    await refresh();
  } catch (err) {
    if (err.unreachable) {
      // Try again shortly; the token may still be good for a while.
      refreshTimer = setTimeout(backgroundRefresh, 20000);
    }
    // A 401 already ended the session inside refresh().
  }
}

function withLock(fn) {
  if (navigator.locks && typeof navigator.locks.request === "function") {
    return navigator.locks.request("mainplatform-refresh", fn);
  }
  return fn();
}

async function doRefresh() {
  const response = await send("POST", "/auth/refresh", { json: true });
  if (response.ok) {
    setToken(await response.json());
    return true;
  }
  const err = await errorFrom(response);
  if (response.status === 401) {
    endSession(err.code, sessionMessage(err));
    err.message = sessionMessage(err);
    err.code = err.code || "session_ended";
  }
  throw err;
}

/**
 * Get a new access token through the HttpOnly refresh cookie. Resolves true;
 * rejects with ApiError (status 401: no session; unreachable: try later).
 */
export function refresh() {
  if (!refreshing) {
    refreshing = withLock(doRefresh).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** Refresh now if the token is missing or about to expire (e.g. after a sleeping laptop wakes). */
export async function refreshIfStale() {
  if (accessToken !== null && Date.now() > expiresAt - 30000) {
    try {
      await refresh();
    } catch {
      /* handled by refresh() and the next call */
    }
  }
}

// -- requests -------------------------------------------------------------------------------

/** An authenticated call: one refresh and one retry on 401, then the session ends. */
export async function call(method, path, body) {
  if (accessToken === null || Date.now() > expiresAt - 5000) {
    await refresh();
  }
  let response = await send(method, path, { body, token: accessToken });
  if (response.status === 401) {
    await refresh(); // rejects (and ends the session) if the refresh cookie is no good
    response = await send(method, path, { body, token: accessToken });
    if (response.status === 401) {
      const err = await errorFrom(response);
      endSession(err.code, ENDED);
      err.message = ENDED;
      throw err;
    }
  }
  return parse(response);
}

/** A call that needs no session (health, register, login). */
export async function open(method, path, body) {
  return parse(await send(method, path, { body }));
}

// -- the endpoints ------------------------------------------------------------------------------

export async function login(email, password) {
  const data = await open("POST", "/auth/login", { email, password });
  setToken(data);
  return data;
}

export function register(email, password) {
  return open("POST", "/auth/register", { email, password });
}

/** End this session; the server revokes it and clears the cookie. */
export async function logout() {
  await call("POST", "/auth/logout");
  clearToken();
}

export async function logoutAll() {
  await call("POST", "/auth/logout-all");
  clearToken();
}

export const me = () => call("GET", "/users/me");
export const updateMe = (changes) => call("PATCH", "/users/me", changes);
export const changePassword = (current_password, new_password) =>
  call("POST", "/users/me/password", { current_password, new_password });

function page(path, limit, cursor) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor) query.set("cursor", cursor);
  return `${path}?${query}`;
}

export const listNotes = (limit, cursor) => call("GET", page("/notes", limit, cursor));
export const createNote = (title, body) => call("POST", "/notes", { title, body });
export const updateNote = (id, changes) => call("PATCH", `/notes/${encodeURIComponent(id)}`, changes);
export const deleteNote = (id) => call("DELETE", `/notes/${encodeURIComponent(id)}`);

export const listUsers = (limit, cursor) => call("GET", page("/admin/users", limit, cursor));
export const updateUser = (id, changes) =>
  call("PATCH", `/admin/users/${encodeURIComponent(id)}`, changes);

/** Sign-in methods besides the password: { oidc: { enabled, name } }. */
export const providers = () => open("GET", "/auth/providers");
/** Where the browser goes (a full navigation) to sign in with the identity provider. */
export const OIDC_LOGIN = `${BASE}/auth/oidc/login`;

export const health = () => open("GET", "/health");
export const ready = async () => {
  // 503 carries the same body with failing checks; that is an answer, not an error.
  const response = await send("GET", "/ready");
  const data = await readJson(response);
  if (data && data.checks) return data;
  throw await errorFrom(response);
};
export const info = () => open("GET", "");
