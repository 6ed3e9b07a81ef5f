// The notebook widget's view (anywidget): the embedded widget watching the run, sized by its own resize events;
// the step it shows goes back to Python as `shown_step`.

function render({ model, el }) {
  const frame = document.createElement("iframe");
  frame.title = "Backprop Live: a neural network learning";
  frame.setAttribute("allow", "fullscreen");
  frame.style.cssText = "display:block;width:100%;max-width:820px;border:0;border-radius:10px";
  const show = () => {
    frame.src = model.get("url");
    frame.style.height = `${model.get("height")}px`;
  };
  const onMessage = (ev) => {
    if (ev.source !== frame.contentWindow || !ev.data || ev.data.source !== "backprop-live") return;
    if (ev.data.type === "resize" && ev.data.height > 0) frame.style.height = `${Math.ceil(ev.data.height) + 2}px`;
    if ((ev.data.type === "step" || ev.data.type === "phase") && Number.isInteger(ev.data.step)) {
      model.set("shown_step", ev.data.step);
      model.save_changes();
    }
  };
  show();
  model.on("change:url", show);
  window.addEventListener("message", onMessage);
  el.appendChild(frame);
  return () => window.removeEventListener("message", onMessage);
}

export default { render };
