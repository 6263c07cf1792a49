// @ts-check
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
// - What the backend says about itself (its OpenAPI document, its sign-in methods and
//   password policy) is asked once per page load and then answered from memory.

/**
 * The API's answers, as the backend's OpenAPI document describes them.
 * @typedef {{ field: string, message: string }} FieldError
 * @typedef {{ id: number, email: string, display_name: string, role: "user" | "admin",
 *   disabled: boolean, created_at: string, has_password?: boolean,
 *   email_verified?: boolean }} User
 * @typedef {{ items: User[], next_cursor: string | null }} UserPage
 * @typedef {{ id: number, title: string, body: string, created_at: string,
 *   updated_at: string }} Note
 * @typedef {{ items: Note[], next_cursor: string | null }} NotePage
 * @typedef {{ access_token: string, token_type: string, expires_in: number }} TokenResponse
 * @typedef {{ oidc: { enabled: boolean, name: string },
 *   password: { min_length: number, max_length: number } }} Providers
 * @typedef {{ status: "ok", uptime: number, timestamp: string, version: string }} Health
 * @typedef {{ status: "ready" | "not_ready", checks: Record<string, string> }} Readiness
 * @typedef {{ name: string, version: string }} ApiInfo
 * @typedef {{ message: string }} Accepted
 * @typedef {{ code: string, message: string, wasSignedIn: boolean }} SessionEnd
 * @typedef {"http" | "network" | "timeout" | "unavailable"} ErrorKind
 */

const BASE = "/api";
const TIMEOUT_MS = 15000;

/** @type {string | null} */
let accessToken = null;
let expiresAt = 0; // ms since epoch, by this browser's clock
let refreshTimer = 0;
/** @type {Promise<boolean> | null} */
let refreshing = null;

/** @type {Set<(end: SessionEnd) => void>} */
const sessionEndedListeners = new Set();
/** @type {Set<(inFlight: number) => void>} */
const activityListeners = new Set();
let inFlight = 0;

export class ApiError extends Error {
  /**
   * kind: "http" (the API answered with an error), "network" (no answer),
   * "timeout", or "unavailable" (a proxy answered instead of the API: 502/503/504).
   * @param {{ kind: ErrorKind, status?: number, code?: string, message: string,
   *   fields?: FieldError[], retryAfter?: number }} details
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

/**
 * What a `catch` caught, as an ApiError: itself, or (for anything else that was thrown,
 * such as a bug) an ApiError with the same message, so views can read it one way.
 * @param {unknown} err
 * @returns {ApiError}
 */
export function apiError(err) {
  if (err instanceof ApiError) return err;
  return new ApiError({ kind: "http", message: err instanceof Error ? err.message : String(err) });
}

/**
 * Listen for the end of the session: fn({ code, message, wasSignedIn }).
 * @param {(end: SessionEnd) => void} fn
 */
export function onSessionEnded(fn) {
  sessionEndedListeners.add(fn);
}

/**
 * Listen for request activity: fn(numberOfRequestsInFlight).
 * @param {(inFlight: number) => void} fn
 */
export function onActivity(fn) {
  activityListeners.add(fn);
}

export function hasToken() {
  return accessToken !== null;
}

/** @param {number} delta */
function setActivity(delta) {
  inFlight += delta;
  for (const fn of activityListeners) fn(inFlight);
}

/** @param {number} n */
function seconds(n) {
  if (n < 60) return `${n} second${n === 1 ? "" : "s"}`;
  const minutes = Math.ceil(n / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

/** @param {number} retryAfter seconds */
export function waitText(retryAfter) {
  return seconds(Math.max(1, retryAfter));
}

/**
 * @param {string} method
 * @param {string} path below /api
 * @param {{ body?: unknown, token?: string | null, json?: boolean }} [options]
 * @returns {Promise<Response>}
 */
async function send(method, path, { body, token, json = body !== undefined } = {}) {
  /** @type {Record<string, string>} */
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
    if (err && typeof err === "object" && "name" in err && err.name === "AbortError") {
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

/**
 * @param {Response} response
 * @returns {Promise<any>} the JSON body, or null when there is none
 */
async function readJson(response) {
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("application/json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/**
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
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

/**
 * @param {Response} response
 * @returns {Promise<any>}
 */
async function parse(response) {
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  return readJson(response);
}

// -- tokens and refresh -------------------------------------------------------------------

/** @param {TokenResponse} data */
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

/**
 * @param {string} code
 * @param {string} message
 */
function endSession(code, message) {
  const wasSignedIn = accessToken !== null;
  clearToken();
  for (const fn of sessionEndedListeners) fn({ code, message, wasSignedIn });
}

/** @param {ApiError} err */
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
    if (apiError(err).unreachable) {
      // Try again shortly; the token may still be good for a while.
      refreshTimer = setTimeout(backgroundRefresh, 20000);
    }
    // A 401 already ended the session inside refresh().
  }
}

/**
 * @template T
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
async function withLock(fn) {
  if (navigator.locks && typeof navigator.locks.request === "function") {
    // Awaited here: TypeScript's DOM types give request() a Promise<Promise<T>> in some
    // versions and a Promise<T> in others; the value is T either way.
    return await navigator.locks.request("mainplatform-refresh", fn);
  }
  return fn();
}

/** @returns {Promise<boolean>} */
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
 * @returns {Promise<boolean>}
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

/**
 * An authenticated call: one refresh and one retry on 401, then the session ends.
 * @param {string} method
 * @param {string} path below /api
 * @param {unknown} [body] sent as JSON
 * @returns {Promise<any>} the JSON answer (null for 204)
 */
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

/**
 * A call that needs no session (health, register, login).
 * @param {string} method
 * @param {string} path below /api
 * @param {unknown} [body] sent as JSON
 * @returns {Promise<any>} the JSON answer (null for 204)
 */
export async function open(method, path, body) {
  return parse(await send(method, path, { body }));
}

// -- the endpoints ------------------------------------------------------------------------------

/**
 * @param {string} email
 * @param {string} password
 * @returns {Promise<TokenResponse>}
 */
export async function login(email, password) {
  const data = await open("POST", "/auth/login", { email, password });
  setToken(data);
  return data;
}

/**
 * @param {string} email
 * @param {string} password
 * @returns {Promise<User>}
 */
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

/**
 * Ask for a password-reset link; the answer is the same whether or not an account exists.
 * @param {string} email
 * @returns {Promise<Accepted>}
 */
export const forgotPassword = (email) => open("POST", "/auth/password/forgot", { email });
/**
 * @param {string} token from the link in the mail
 * @param {string} new_password
 * @returns {Promise<null>}
 */
export const resetPassword = (token, new_password) =>
  open("POST", "/auth/password/reset", { token, new_password });
/**
 * Ask for a new verification link for an address (same answer whatever the address).
 * @param {string} email
 * @returns {Promise<Accepted>}
 */
export const requestVerification = (email) => open("POST", "/auth/email/verify/request", { email });
/**
 * @param {string} token from the link in the mail
 * @returns {Promise<null>}
 */
export const verifyEmail = (token) => open("POST", "/auth/email/verify", { token });

/** @returns {Promise<User>} */
export const me = () => call("GET", "/users/me");
/**
 * @param {{ display_name?: string, email?: string, current_password?: string }} changes
 * @returns {Promise<User>}
 */
export const updateMe = (changes) => call("PATCH", "/users/me", changes);
/**
 * @param {string} current_password
 * @param {string} new_password
 * @returns {Promise<null>}
 */
export const changePassword = (current_password, new_password) =>
  call("POST", "/users/me/password", { current_password, new_password });

/**
 * @param {string} path
 * @param {number} limit
 * @param {string | null} [cursor]
 */
function page(path, limit, cursor) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor) query.set("cursor", cursor);
  return `${path}?${query}`;
}

/**
 * @param {number} limit
 * @param {string | null} [cursor]
 * @returns {Promise<NotePage>}
 */
export const listNotes = (limit, cursor) => call("GET", page("/notes", limit, cursor));
/**
 * @param {string} title
 * @param {string} body
 * @returns {Promise<Note>}
 */
export const createNote = (title, body) => call("POST", "/notes", { title, body });
/**
 * @param {number} id
 * @param {{ title?: string, body?: string }} changes
 * @returns {Promise<Note>}
 */
export const updateNote = (id, changes) => call("PATCH", `/notes/${encodeURIComponent(id)}`, changes);
/**
 * @param {number} id
 * @returns {Promise<null>}
 */
export const deleteNote = (id) => call("DELETE", `/notes/${encodeURIComponent(id)}`);

/**
 * @param {number} limit
 * @param {string | null} [cursor]
 * @returns {Promise<UserPage>}
 */
export const listUsers = (limit, cursor) => call("GET", page("/admin/users", limit, cursor));
/**
 * @param {number} id
 * @param {{ role?: "user" | "admin", disabled?: boolean }} changes
 * @returns {Promise<User>}
 */
export const updateUser = (id, changes) =>
  call("PATCH", `/admin/users/${encodeURIComponent(id)}`, changes);

/**
 * A GET that needs no session, asked once per page load and then answered from memory.
 * An attempt that got no answer is forgotten, so the next caller asks again.
 * @param {string} path below /api
 * @returns {() => Promise<any>}
 */
function once(path) {
  /** @type {Promise<any> | null} */
  let answer = null;
  return () => {
    if (!answer) {
      answer = open("GET", path).catch((err) => {
        if (apiError(err).unreachable) answer = null;
        throw err;
      });
    }
    return answer;
  };
}

/**
 * Sign-in methods besides the password, and the password policy:
 * { oidc: { enabled, name }, password: { min_length, max_length } }. Asked once.
 * @type {() => Promise<Providers>}
 */
export const providers = once("/auth/providers");
/**
 * The backend's OpenAPI document (request bodies and their limits). Asked once.
 * @type {() => Promise<any>}
 */
export const openapi = once("/openapi.json");
/** Where the browser goes (a full navigation) to sign in with the identity provider. */
export const OIDC_LOGIN = `${BASE}/auth/oidc/login`;

/** @returns {Promise<Health>} */
export const health = () => open("GET", "/health");
/** @returns {Promise<Readiness>} */
export const ready = async () => {
  // 503 carries the same body with failing checks; that is an answer, not an error.
  const response = await send("GET", "/ready");
  const data = await readJson(response);
  if (data && data.checks) return data;
  throw await errorFrom(response);
};
/** @returns {Promise<ApiInfo>} */
export const info = () => open("GET", "");
