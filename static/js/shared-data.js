// A run on one's own data shared by a link: the data is kept on the server under its content hash (POST
// /api/datasets) and the link carries `data=<hash>`; the page or the widget that opens it fetches the data back.

import { api } from "./connection.js";

export const DATA_ID = /^[0-9a-f]{64}$/;

/** Keeps `custom` (the API's custom_data) on the server: its id (a SHA-256, the same for the same data). */
export async function shareData(custom) {
  return (await api("POST", "/api/datasets", custom)).id;
}

/**
 * The custom_data a link's `data=<id>` names. Throws an Error saying why not (never stored, or no longer kept),
 * for the page to show.
 */
export async function sharedData(id) {
  if (!id) throw new Error("This link is to a run on its author's own data, but the data's id is missing from it. Starting a run on the default data instead.");
  try {
    const d = await api("GET", `/api/datasets/${encodeURIComponent(id)}`);
    return { x: d.x, y: d.y, task: d.task };
  } catch (err) {
    if (err.status === 404) throw new Error(`The data of this link is not on this server: ${err.message}. Starting a run on the default data instead.`);
    throw new Error(`The data of this link could not be loaded: ${err.message}. Starting a run on the default data instead.`);
  }
}
