// The header's Share button. The dialog's module (static/js/embed/share.js, and the QR code library after it) loads
// when the button is first pressed, not with the page: most visits never share.

import { parseUrl } from "./config.js";

const button = document.getElementById("share-button");
button?.addEventListener("click", async () => {
  const { openShareDialog } = await import("./embed/share.js");
  const { config, ui } = parseUrl(location.search);
  openShareDialog({ config, speed: ui.speed, data: ui.data, watch: button.dataset.watch || null });
});
