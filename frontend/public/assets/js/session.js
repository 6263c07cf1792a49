// @ts-check
// Who is signed in. The user object comes from GET /api/users/me (its `role`
// decides whether the admin view is offered); the token itself stays in api.js.

import * as api from "./api.js";
import { flash } from "./ui.js";

/**
 * What changed, for subscribers: ended (a session was lost), code (why), signedOut
 * (the user asked), unreachable (the first check got no answer).
 * @typedef {{ ended?: boolean, code?: string, signedOut?: boolean,
 *   unreachable?: boolean }} Change
 * @typedef {"checking" | "unreachable" | "signed-in" | "signed-out"} State
 */

/** @type {import("./api.js").User | null} */
let user = null;
let lastEmail = "";
// "checking" until the first refresh answers; "unreachable" if it could not;
// then "signed-in" or "signed-out".
/** @type {State} */
let state = "checking";
/** @type {api.ApiError | null} */
let lastProblem = null;
/** @type {Promise<void>} */
let ready = Promise.resolve();
/** @type {Set<(user: import("./api.js").User | null, change: Change) => void>} */
const listeners = new Set();

export const currentUser = () => user;
/** The e-mail address of the last signed-in user on this page (to prefill sign-in). */
export const rememberedEmail = () => lastEmail;
export const sessionState = () => state;
export const isAdmin = () => user !== null && user.role === "admin";
/** The error that kept the first check from answering (when state is "unreachable"). */
export const problem = () => lastProblem;
/** Resolves once the first check (or a retry) has settled. */
export const whenReady = () => ready;

/**
 * fn(user, change) runs whenever the user signs in or out; change.ended marks a lost session.
 * @param {(user: import("./api.js").User | null, change: Change) => void} fn
 */
export function subscribe(fn) {
  listeners.add(fn);
}

/**
 * @param {import("./api.js").User | null} next
 * @param {Change} [change]
 */
function set(next, change = {}) {
  if (next) lastEmail = next.email;
  user = next;
  state = next ? "signed-in" : "signed-out";
  lastProblem = null;
  for (const fn of listeners) fn(user, change);
}

api.onSessionEnded(({ code, message, wasSignedIn }) => {
  // A quiet "no session" on page load needs no message; a session that ends
  // under the user's feet, or one ended for safety, does.
  const lost = wasSignedIn || user !== null;
  if (lost || code === "refresh_token_reused") {
    flash(message, code === "refresh_token_reused" ? "error" : "info");
  }
  set(null, { ended: lost, code });
});

/** On page load (and on "Try again"): turn the refresh cookie back into a session. */
export function restore() {
  state = "checking";
  ready = (async () => {
    try {
      await api.refresh();
      set(await api.me());
    } catch (err) {
      if (err instanceof api.ApiError && err.status === 401) {
        // Read through sessionState(): the refusal already ran onSessionEnded above,
        // which may have set the state (the type checker cannot see that).
        if (sessionState() !== "signed-out") set(null);
      } else {
        state = "unreachable";
        lastProblem = api.apiError(err);
        for (const fn of listeners) fn(user, { unreachable: true });
      }
    }
  })();
  return ready;
}

/**
 * @param {string} email
 * @param {string} password
 */
export async function signIn(email, password) {
  await api.login(email, password);
  set(await api.me());
}

/** @returns {Promise<import("./api.js").User>} the user as the server has it now */
export async function reloadUser() {
  const fresh = await api.me();
  set(fresh);
  return fresh;
}

export async function signOut() {
  await api.logout();
  flash("You are signed out on this device.", "success");
  set(null, { signedOut: true });
}

export async function signOutEverywhere() {
  await api.logoutAll();
  flash("You are signed out on every device, including this one.", "success");
  set(null, { signedOut: true });
}

// A laptop that slept past the token's expiry refreshes as soon as it is looked at.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && user !== null) api.refreshIfStale();
});
