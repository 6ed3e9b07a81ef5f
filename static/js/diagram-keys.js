// Moving a keyboard cursor over the network diagram. The diagram is read as columns from left to right: the
// neurons of layer 0 (the inputs), the connections into layer 1, the neurons of layer 1, ... the output neurons.
// Left and right arrows go to the neighbouring column (from a connection, to the neuron at that end of it);
// up and down move inside a column; Home and End go to its first and last item.
//
// A connection column is walked in one of two orders, set by the side it was entered from: from a neuron on the
// left, the connections leaving that neuron come first ("source": w[j][0], w[j][1], ... then w[j+1][0]); from a
// neuron on the right, the connections arriving at it ("target": w[0][k], w[1][k], ... then w[0][k+1]).
//
// Cursor: {kind: "neuron", l, k} or {kind: "edge", l, j, k, by: "source" | "target"}; the edge joins neuron j of
// layer l-1 to neuron k of layer l, as in the network's selection.

export const CURSOR_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"]);

/** The selection the cursor stands for (what the inspector opens): the cursor without its walking order. */
export function selectionOf(cursor) {
  if (!cursor) return null;
  return cursor.kind === "edge" ? { kind: "edge", l: cursor.l, j: cursor.j, k: cursor.k } : { kind: "neuron", l: cursor.l, k: cursor.k };
}

/** Whether `cursor` names a neuron or a connection of a network with these sizes. */
export function validCursor(cursor, sizes) {
  if (!cursor) return false;
  const L = sizes.length - 1;
  if (cursor.kind === "neuron") return cursor.l >= 0 && cursor.l <= L && cursor.k >= 0 && cursor.k < sizes[cursor.l];
  return cursor.l >= 1 && cursor.l <= L && cursor.j >= 0 && cursor.j < sizes[cursor.l - 1] && cursor.k >= 0 && cursor.k < sizes[cursor.l];
}

/** Where the cursor starts: on the selection if there is one, else on the first input. */
export function startCursor(sizes, selection) {
  if (validCursor(selection, sizes)) return selection.kind === "edge" ? { ...selectionOf(selection), by: "source" } : selectionOf(selection);
  return { kind: "neuron", l: 0, k: 0 };
}

/** The cursor after `key` (one of CURSOR_KEYS); the same cursor at the edge of the diagram. */
export function moveCursor(cursor, key, sizes) {
  const L = sizes.length - 1;
  const clamp = (v, n) => Math.max(0, Math.min(n - 1, v));
  if (cursor.kind === "neuron") {
    const { l, k } = cursor, n = sizes[l];
    switch (key) {
      case "ArrowUp": return { kind: "neuron", l, k: clamp(k - 1, n) };
      case "ArrowDown": return { kind: "neuron", l, k: clamp(k + 1, n) };
      case "Home": return { kind: "neuron", l, k: 0 };
      case "End": return { kind: "neuron", l, k: n - 1 };
      case "ArrowRight": return l < L ? { kind: "edge", l: l + 1, j: k, k: 0, by: "source" } : cursor;
      case "ArrowLeft": return l > 0 ? { kind: "edge", l, j: 0, k, by: "target" } : cursor;
      default: return cursor;
    }
  }
  const { l, j, k } = cursor;
  const by = cursor.by === "target" ? "target" : "source";
  const nIn = sizes[l - 1], nOut = sizes[l], count = nIn * nOut;
  // position of the edge in the column's order, and back
  const index = by === "source" ? j * nOut + k : k * nIn + j;
  const at = (i) => {
    const p = clamp(i, count);
    return by === "source"
      ? { kind: "edge", l, j: Math.floor(p / nOut), k: p % nOut, by }
      : { kind: "edge", l, j: p % nIn, k: Math.floor(p / nIn), by };
  };
  switch (key) {
    case "ArrowUp": return at(index - 1);
    case "ArrowDown": return at(index + 1);
    case "Home": return at(0);
    case "End": return at(count - 1);
    case "ArrowLeft": return { kind: "neuron", l: l - 1, k: j };
    case "ArrowRight": return { kind: "neuron", l, k };
    default: return cursor;
  }
}
