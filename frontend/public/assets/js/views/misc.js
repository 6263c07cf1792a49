// @ts-check
// Small views: page not found, admin-only, and "the server can't be reached".

import { restore, problem } from "../session.js";
import { refresh } from "../router.js";
import { busy, h } from "../ui.js";

/** @type {import("../router.js").View} */
export function notFoundView(ctx) {
  return h(
    "section",
    { class: "card message-card" },
    h("h1", {}, "Page not found"),
    h("p", {}, "There is nothing at this address. It may have moved, or the link may be mistyped."),
    ctx.flash,
    h("p", {}, h("a", { href: "/", class: "button primary" }, "Go to the start page")),
  );
}

/** @type {import("../router.js").View} */
export function forbiddenView(ctx) {
  return h(
    "section",
    { class: "card message-card" },
    h("h1", {}, "For administrators only"),
    h("p", {}, "This page manages other people's accounts, so only administrators can open it. If you need access, ask an administrator."),
    ctx.flash,
    h("p", {}, h("a", { href: "/notes", class: "button primary" }, "Back to your notes")),
  );
}

/** @type {import("../router.js").View} */
export function unreachableView(ctx) {
  const retry = h("button", { type: "button", class: "primary" }, "Try again");
  retry.addEventListener("click", () =>
    busy(retry, "Trying…", async () => {
      await restore();
      await refresh();
    }),
  );
  const err = problem();
  return h(
    "section",
    { class: "card message-card" },
    h("h1", {}, "Can’t reach the server"),
    h("p", {}, err ? err.brief : "The server did not answer."),
    h("p", {}, "Your notes are safe. Try again in a moment, or open the status page to see what is down."),
    ctx.flash,
    h("p", { class: "actions" }, retry, h("a", { href: "/status", class: "button secondary" }, "System status")),
  );
}
