// @ts-check
// Start-up: wire the progress bar, draw the navigation, define the routes and
// their guards, then restore the session from the refresh cookie.

import * as api from "./api.js";
import * as router from "./router.js";
import { currentUser, isAdmin, restore, sessionState, subscribe, whenReady } from "./session.js";
import { byId, flash, h, showProgress } from "./ui.js";
import { accountView } from "./views/account.js";
import { adminView } from "./views/admin.js";
import { forbiddenView, notFoundView, unreachableView } from "./views/misc.js";
import { notesView } from "./views/notes/index.js";
import { forgotPasswordView, resetPasswordView, verifyEmailView } from "./views/recovery.js";
import { registerView } from "./views/register.js";
import { signInView } from "./views/signin.js";
import { statusView } from "./views/status.js";

api.onActivity(showProgress);

router.define("/", () => h("p", {}, "Loading…"), { title: "" });
router.define("/sign-in", signInView, { title: "Sign in", guest: true });
router.define("/register", registerView, { title: "Create an account", guest: true });
router.define("/forgot-password", forgotPasswordView, { title: "Forgot your password?", open: true });
router.define("/reset-password", resetPasswordView, { title: "Choose a new password", open: true });
router.define("/verify-email", verifyEmailView, { title: "Confirm your e-mail address", open: true });
router.define("/notes", notesView, { title: "Notes", auth: true });
router.define("/account", accountView, { title: "Account", auth: true });
router.define("/admin", adminView, { title: "Users", auth: true, admin: true });
router.define("/status", statusView, { title: "Status", open: true });
router.define("*", notFoundView, { title: "Page not found", open: true });

router.setGuard(async (route, where) => {
  if (route.open) return null;
  await whenReady();
  const user = currentUser();
  const state = sessionState();
  if (where.pathname === "/") return { redirect: user ? "/notes" : "/sign-in" };
  if (route.auth) {
    if (state === "unreachable") return { view: unreachableView, title: "Can’t reach the server" };
    if (!user) {
      flash("Please sign in to continue.", "info", { ifEmpty: true });
      const next = where.pathname + where.search;
      return { redirect: `/sign-in?next=${encodeURIComponent(next)}` };
    }
    if (route.admin && !isAdmin()) return { view: forbiddenView, title: "For administrators only" };
  }
  if (route.guest && user) return { redirect: "/notes" };
  return null;
});

/**
 * @param {string} path
 * @param {string} label
 */
function link(path, label) {
  const current = router.currentPath() === path;
  return h("li", {}, h("a", { href: path, "aria-current": current ? "page" : null }, label));
}

function drawNav() {
  const nav = byId("nav");
  const who = byId("who");
  const user = currentUser();
  const items = user
    ? [link("/notes", "Notes"), link("/account", "Account"), isAdmin() ? link("/admin", "Users") : null, link("/status", "Status")]
    : [link("/sign-in", "Sign in"), link("/register", "Create account"), link("/status", "Status")];
  nav.replaceChildren(h("ul", {}, items));
  who.replaceChildren(user ? h("span", { title: user.email }, user.display_name || user.email) : "");
  who.hidden = !user;
}

router.onRender(drawNav);

subscribe((user, change) => {
  drawNav();
  // Lost the session (or signed out elsewhere): the current view may need it.
  if (!user && change.ended) router.refresh();
});

restore();
router.start();
