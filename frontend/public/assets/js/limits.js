// @ts-check
// The limits the forms show (how long a note's title and text and a display name may
// be, and the password policy) as the backend states them, so they are never typed in
// here a second time: the maximum lengths from its OpenAPI document
// (GET /api/openapi.json), the password policy from GET /api/auth/providers. Each is
// asked once per page load; api.js keeps the answer in memory.
//
// Forms do not wait for them: they are drawn at once and take their limits when the
// answer arrives (in practice before anyone has typed a word). If the limits cannot be
// had, the fields have no maxlength and the backend, which is the judge anyway, refuses
// what is too long with a message under the field.

import * as api from "./api.js";

/**
 * @typedef {{ title: number | null, body: number | null }} NoteLimits
 * @typedef {{ minLength: number, maxLength: number }} PasswordPolicy
 */

/**
 * The maxLength the OpenAPI document gives a property of a request body, or null.
 * @param {any} doc
 * @param {string} schema
 * @param {string} property
 * @returns {number | null}
 */
function maxLength(doc, schema, property) {
  const value = doc?.components?.schemas?.[schema]?.properties?.[property]?.maxLength;
  return Number.isInteger(value) && value > 0 ? value : null;
}

/**
 * How long a note's title and text may be (NoteCreate in the OpenAPI document).
 * @returns {Promise<NoteLimits>}
 */
export async function noteLimits() {
  const doc = await api.openapi();
  return { title: maxLength(doc, "NoteCreate", "title"), body: maxLength(doc, "NoteCreate", "body") };
}

/**
 * How long a display name may be (ProfileUpdate in the OpenAPI document).
 * @returns {Promise<number | null>}
 */
export async function displayNameLimit() {
  return maxLength(await api.openapi(), "ProfileUpdate", "display_name");
}

/**
 * The password policy: its minimum length follows the backend's PASSWORD_MIN_LENGTH.
 * Rejects if the backend does not say it.
 * @returns {Promise<PasswordPolicy>}
 */
export async function passwordPolicy() {
  const policy = (await api.providers())?.password;
  const min = policy?.min_length;
  const max = policy?.max_length;
  if (!Number.isInteger(min) || !Number.isInteger(max)) {
    throw new Error("The server did not say its password policy.");
  }
  return { minLength: min, maxLength: max };
}

/**
 * Give an input its maxlength once the limit is known; while it is not (or if it
 * cannot be had) the input has none.
 * @param {HTMLInputElement | HTMLTextAreaElement} input
 * @param {Promise<number | null>} limit
 */
export function limitLength(input, limit) {
  limit.then(
    (n) => {
      if (n !== null) input.maxLength = n;
    },
    () => {
      /* not known: the backend's answer says what is too long */
    },
  );
}
