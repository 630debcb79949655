// jaxseq demo: tabs, pointer-event stroke pads, calls to /api/<action>, messages. No framework.
"use strict";
const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------------------------ tabs, messages
document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t === b));
  document.querySelectorAll(".panel").forEach((p) => p.classList.toggle("active", p.id === b.dataset.tab));
}));

function say(id, text, kind) {      // kind: "error" | "warn" | "busy"; empty text hides the box
  const el = $(id);
  el.hidden = !text;
  el.className = "msg " + (kind || "");
  el.textContent = text || "";
}

async function api(action, body) {
  let res;
  try {
    res = await fetch("/api/" + action, {method: "POST", headers: {"Content-Type": "application/json"},
                                         body: JSON.stringify(body)});
  } catch (e) {
    throw new Error("Cannot reach the demo server: is python -m jaxseq.demo still running?");
  }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok || data === null || data.error) {
    throw new Error((data && data.error) || ("The server answered " + res.status + "."));
  }
  return data;
}

async function run(button, msgId, busyText, fn) {   // one request at a time per button, errors shown
  button.disabled = true;
  say(msgId, busyText, "busy");
  try {
    const warn = await fn();
    say(msgId, warn || "", warn ? "warn" : "");
  } catch (e) {
    say(msgId, e.message, "error");
  } finally {
    button.disabled = false;
  }
}

const num = (id) => Number($(id).value);

// -------------------------------------------------------------------------------------- stroke pads
// Records strokes as [[x, y, t], ...] in CSS pixels of the pad, t in ms since the pad's first point.
function makePad(canvas) {
  const pad = {strokes: [], t0: null, drawing: false, canvas: canvas};
  const ctx = canvas.getContext("2d");
  const pos = (e) => {
    const r = canvas.getBoundingClientRect();
    if (pad.t0 === null) pad.t0 = e.timeStamp;
    return [e.clientX - r.left, e.clientY - r.top, Math.round(e.timeStamp - pad.t0)];
  };
  const line = (a, b) => {
    const r = canvas.getBoundingClientRect();
    const sx = canvas.width / r.width, sy = canvas.height / r.height;
    ctx.lineWidth = 2; ctx.lineCap = "round"; ctx.strokeStyle = "#111";
    ctx.beginPath(); ctx.moveTo(a[0] * sx, a[1] * sy); ctx.lineTo(b[0] * sx + 0.01, b[1] * sy); ctx.stroke();
  };
  canvas.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events have no capture */ }
    pad.drawing = true;
    const p = pos(e);
    pad.strokes.push([p]);
    line(p, p);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!pad.drawing) return;
    const s = pad.strokes[pad.strokes.length - 1];
    const evs = (e.getCoalescedEvents && e.getCoalescedEvents().length) ? e.getCoalescedEvents() : [e];
    for (const ev of evs) {
      const p = pos(ev);
      line(s[s.length - 1], p);
      s.push(p);
    }
  });
  const end = () => { pad.drawing = false; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  pad.clear = () => { pad.strokes = []; pad.t0 = null; ctx.clearRect(0, 0, canvas.width, canvas.height); };
  pad.size = () => canvas.getBoundingClientRect().width;
  return pad;
}

// -------------------------------------------------------------------------------------- handwriting
const hwPad = makePad($("pad"));
let myStyle = null;

async function loadInfo() {
  try {
    const info = await api("info", {});
    const sel = $("hw-style");
    info.styles.forEach((text, i) => {
      const o = document.createElement("option");
      o.value = String(i);
      o.textContent = "shipped line " + i + ": \u201c" + text + "\u201d";
      sel.appendChild(o);
    });
    sel.value = "0";
  } catch (e) {
    say("hw-msg", e.message, "error");
  }
}

function svgUrl(svg) { return "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg); }

function pngDownload(svg, link) {
  const img = new Image();
  img.onload = () => {
    const c = document.createElement("canvas");
    c.width = img.width * 2; c.height = img.height * 2;
    const g = c.getContext("2d");
    g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
    g.drawImage(img, 0, 0, c.width, c.height);
    link.href = c.toDataURL("image/png");
  };
  img.src = svgUrl(svg);
}

$("hw-write").addEventListener("click", () => run($("hw-write"), "hw-msg", "Writing\u2026", async () => {
  const sel = $("hw-style").value;
  const style = sel === "mine" ? myStyle : (sel === "none" ? null : Number(sel));
  const r = await api("handwriting", {text: $("hw-text").value, bias: num("hw-bias"), seed: num("hw-seed"),
                                      width: num("hw-width"), style: style});
  $("hw-out").innerHTML = r.svg;
  $("hw-time").textContent = r.lines.length + " line(s) in " + r.seconds + " s";
  $("hw-dl-svg").href = svgUrl(r.svg);
  $("hw-dl-anim").href = svgUrl(r.svg_animated);
  pngDownload(r.svg, $("hw-dl-png"));
  $("hw-dl").hidden = false;
  return r.warnings.join("\n");
}));

$("pad-clear").addEventListener("click", () => { hwPad.clear(); say("pad-msg", ""); });

$("pad-use").addEventListener("click", () => run($("pad-use"), "pad-msg", "Reading your line\u2026", async () => {
  const r = await api("pad_style", {strokes: hwPad.strokes, text: $("pad-text").value});
  myStyle = r.style;
  $("pad-preview").innerHTML = r.svg;
  const sel = $("hw-style");
  let o = sel.querySelector('option[value="mine"]');
  if (!o) { o = document.createElement("option"); o.value = "mine"; sel.appendChild(o); }
  o.textContent = "my hand: \u201c" + r.style.text + "\u201d";
  sel.value = "mine";
  $("pad-save").href = "data:application/json;charset=utf-8," + encodeURIComponent(JSON.stringify(r.style));
  $("pad-save").hidden = false;
  $("hw-write").click();
  return "";
}));

// --------------------------------------------------------------------------------------- sketch-rnn
const skPad = makePad($("sk-pad"));
const skCommon = () => ({model: $("sk-model").value, temperature: num("sk-temp"), seed: num("sk-seed")});

$("sk-sample").addEventListener("click", () => run($("sk-sample"), "sk-msg", "Drawing\u2026", async () => {
  const r = await api("sketch_sample", Object.assign(skCommon(), {n: 6}));
  $("sk-samples").innerHTML = r.svgs.join("");
  return "";
}));
$("sk-clear").addEventListener("click", () => { skPad.clear(); say("sk-msg", ""); });
$("sk-complete").addEventListener("click", () => run($("sk-complete"), "sk-msg", "Completing\u2026", async () => {
  const r = await api("sketch_complete", Object.assign(skCommon(), {n: 4, strokes: skPad.strokes,
                                                                    pad_size: skPad.size()}));
  $("sk-completions").innerHTML = r.svgs.join("");
  return "";
}));
$("sk-interp").addEventListener("click", () => run($("sk-interp"), "sk-msg", "Interpolating\u2026", async () => {
  const r = await api("sketch_interpolate", Object.assign(skCommon(), {a: num("sk-a"), b: num("sk-b"), steps: 7}));
  $("sk-interp-out").innerHTML = r.svgs.join("");
  return "";
}));

// ---------------------------------------------------------------------------------------- translate
function esc(s) { return s.replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c])); }

function heatmap(att, src, tgt) {   // att[target][source]: rows = output tokens, columns = source tokens
  const cell = 30, left = 110, top = 90;
  const w = left + cell * src.length + 10, h = top + cell * tgt.length + 10;
  let s = '<svg xmlns="http://www.w3.org/2000/svg" width="' + w + '" height="' + h + '" class="heat">';
  src.forEach((t, j) => {
    const x = left + cell * j + cell / 2;
    s += '<text x="' + x + '" y="' + (top - 6) + '" transform="rotate(-50 ' + x + ' ' + (top - 6) +
         ')" font-size="12">' + esc(t) + "</text>";
  });
  tgt.forEach((t, i) => {
    s += '<text x="' + (left - 6) + '" y="' + (top + cell * i + cell * 0.65) +
         '" text-anchor="end" font-size="12">' + esc(t) + "</text>";
    src.forEach((_, j) => {
      const v = att[i][j];
      s += '<rect x="' + (left + cell * j) + '" y="' + (top + cell * i) + '" width="' + (cell - 1) + '" height="' +
           (cell - 1) + '" fill="rgb(31,95,191)" fill-opacity="' + v.toFixed(3) + '"><title>' + v.toFixed(2) +
           "</title></rect>";
    });
  });
  return s + "</svg>";
}

$("tr-go").addEventListener("click", () => run($("tr-go"), "tr-msg", "Translating\u2026", async () => {
  const r = await api("translate", {text: $("tr-text").value, beam: num("tr-beam")});
  $("tr-out").textContent = r.translation;
  $("tr-heat").innerHTML = heatmap(r.attention, r.source, r.target);
  return r.warnings.join("\n");
}));
$("tr-text").addEventListener("keydown", (e) => { if (e.key === "Enter") $("tr-go").click(); });

loadInfo();
