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
  if (!id) {
    throw Object.assign(new Error("This link is to a run on its author's own data, but the data's id is missing from it. " +
      "Starting a run on the default data instead."), { code: "invalid_id" });
  }
  let d;
  try {
    d = await api("GET", `/api/datasets/${encodeURIComponent(id)}`);
  } catch (err) {
    const why = err.status === 404 ? `The data of this link is not on this server: ${err.message}.`
      : `The data of this link could not be loaded: ${err.message}.`;
    throw Object.assign(new Error(`${why} Starting a run on the default data instead.`), { code: err.code || "dataset_not_found" });
  }
  return { x: d.x, y: d.y, task: d.task };
}
