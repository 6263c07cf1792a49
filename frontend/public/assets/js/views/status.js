// @ts-check
// Status: is the API answering (liveness), are PostgreSQL and Redis ready, which
// version runs. Works without signing in, and when the API is down it says so.

import * as api from "../api.js";
import { busy, clockTime, duration, h } from "../ui.js";

const EVERY_MS = 30000;

/** @typedef {"up" | "down" | "info" | "unknown"} TileKind */

/** @param {string} title */
function tile(title) {
  const state = h("p", { class: "tile-state" }, "Checking…");
  const detail = h("p", { class: "tile-detail" }, "");
  const el = h("li", { class: "card tile is-unknown" }, h("h2", {}, title), state, detail);
  /**
   * @param {TileKind} kind
   * @param {string} text
   * @param {string} [more]
   */
  const set = (kind, text, more = "") => {
    el.className = `card tile is-${kind}`;
    state.textContent = text;
    detail.textContent = more;
  };
  return { el, set };
}

/**
 * @param {string | undefined} value what /api/ready says of one service
 * @param {string} name
 * @returns {[TileKind, string, string]}
 */
function describeCheck(value, name) {
  if (value === "ok") return ["up", "Working", `${name} answers the API.`];
  return ["down", "Down", value ? `${name}: ${value.replace(/^down:\s*/, "")}` : `${name} does not answer.`];
}

/** @type {import("../router.js").View} */
export function statusView(ctx) {
  const apiTile = tile("API");
  const dbTile = tile("Database");
  const cacheTile = tile("Cache");
  const versionTile = tile("Version");
  const summary = h("div", { class: "summary is-unknown", role: "status" }, h("p", {}, "Checking the platform…"));
  const checked = h("span", {}, "");
  const again = h("button", { type: "button", class: "secondary small" }, "Check now");

  /**
   * @param {"up" | "down"} kind
   * @param {string} text
   */
  const say = (kind, text) => {
    summary.className = `summary is-${kind}`;
    summary.replaceChildren(h("p", {}, text));
  };

  async function check() {
    let alive = false;
    try {
      const health = await api.health();
      alive = true;
      apiTile.set("up", "Up", `Running for ${duration(health.uptime)}.`);
      versionTile.set("info", health.version, "Backend version.");
    } catch (err) {
      apiTile.set("down", "Down", api.apiError(err).brief);
      versionTile.set("unknown", "Unknown", "The API is not answering.");
    }
    if (alive) {
      try {
        const ready = await api.ready();
        const [dbKind, dbText, dbMore] = describeCheck(ready.checks.postgres, "PostgreSQL");
        const [cKind, cText, cMore] = describeCheck(ready.checks.redis, "Redis");
        dbTile.set(dbKind, dbText, dbMore);
        cacheTile.set(cKind, cText, cMore);
        if (ready.status === "ready") say("up", "All systems are working.");
        else say("down", "The API is up, but it is not ready: a service behind it is down.");
      } catch (caught) {
        const err = api.apiError(caught);
        dbTile.set("unknown", "Unknown", err.brief);
        cacheTile.set("unknown", "Unknown", err.brief);
        say("down", "The API is up, but its readiness could not be checked.");
      }
    } else {
      dbTile.set("unknown", "Unknown", "Checked through the API, which is not answering.");
      cacheTile.set("unknown", "Unknown", "Checked through the API, which is not answering.");
      say("down", "The API is down. Signing in and notes are unavailable until it is back.");
    }
    checked.textContent = `Last checked at ${clockTime()}. Checks again every ${EVERY_MS / 1000} seconds.`;
  }

  again.addEventListener("click", () => busy(again, "Checking…", check));
  check();
  const timer = setInterval(check, EVERY_MS);
  ctx.onLeave(() => clearInterval(timer));

  return h(
    "div",
    { class: "page status-page" },
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "System status"),
      h("p", { class: "lead" }, "Whether the platform is answering. Anyone can see this page, signed in or not."),
    ),
    ctx.flash,
    summary,
    h("ul", { class: "tiles" }, apiTile.el, dbTile.el, cacheTile.el, versionTile.el),
    h("p", { class: "checked" }, checked, " ", again),
  );
}
