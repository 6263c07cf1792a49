// Who is signed in. The user object comes from GET /api/users/me (its `role`
// decides whether the admin view is offered); the token itself stays in api.js.

import * as api from "./api.js";
import { flash } from "./ui.js";

let user = null;
let lastEmail = "";
// "checking" until the first refresh answers; "unreachable" if it could not;
// then "signed-in" or "signed-out".
let state = "checking";
let lastProblem = null;
let ready = Promise.resolve();
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

/** fn(user, change) runs whenever the user signs in or out; change.ended marks a lost session. */
export function subscribe(fn) {
  listeners.add(fn);
}

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
        if (state !== "signed-out") set(null);
      } else {
        state = "unreachable";
        lastProblem = err;
        for (const fn of listeners) fn(user, { unreachable: true });
      }
    }
  })();
  return ready;
}

export async function signIn(email, password) {
  await api.login(email, password);
  set(await api.me());
}

export async function reloadUser() {
  set(await api.me());
  return user;
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
