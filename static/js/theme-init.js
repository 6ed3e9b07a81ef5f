// The page's theme before its first paint: ?theme=dark|light, else the system's (static/js/app.js follows
// changes). A classic script in <head>, from a file: the Content-Security-Policy allows no inline script.
(function () {
  var t = new URLSearchParams(location.search).get("theme");
  var d = t === "dark" || (t !== "light" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = d ? "dark" : "light";
})();
