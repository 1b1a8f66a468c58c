// handpose-live: draws the records of `handpose-live run --ws` (ws://<this host>/ws) on a canvas.
// The first message is the stream header (joint names, bones, intrinsics), then one record per frame.
// Plain script, no libraries: the page must work without the internet.
"use strict";

const COLOURS = ["#4fc3f7", "#ffb74d", "#81c784", "#f06292", "#ba68c8", "#fff176", "#4db6ac", "#e57373"];
const canvas = document.getElementById("view");
const ctx = canvas.getContext("2d");
const $ = (id) => document.getElementById(id);

let header = null;
let record = null;
let fps = null;
let lastArrival = null;
let drawPending = false;
let retryMs = 500;

function colour(id) { return COLOURS[((id % COLOURS.length) + COLOURS.length) % COLOURS.length]; }
function subjectsOf(rec) {
  const key = (header && header.subjects_key) || (rec.people ? "people" : "hands");
  return Array.isArray(rec[key]) ? rec[key] : [];
}
function noun() { return header && header.subjects_key === "people" ? "person" : "hand"; }

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  document.body.dataset.state = "connecting";
  $("state").textContent = "connecting";
  ws.onopen = () => {
    retryMs = 500;
    document.body.dataset.state = "open";
    $("state").textContent = "live";
  };
  ws.onmessage = (event) => {
    let msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    if (!msg || typeof msg !== "object") return;
    if ("joint_names" in msg || ("schema" in msg && !("frame" in msg))) {
      header = msg;
      $("subjects-title").textContent = header.subjects_key === "people" ? "people" : "hands";
      $("model").textContent = [header.model, header.skeleton].filter(Boolean).join(" · ");
    } else if ("frame" in msg) {
      const now = performance.now();
      if (lastArrival !== null && now > lastArrival) {
        const instant = 1000 / (now - lastArrival);
        fps = fps === null ? instant : 0.9 * fps + 0.1 * instant;
      }
      lastArrival = now;
      record = msg;
      update();
    }
  };
  ws.onclose = () => {
    document.body.dataset.state = "closed";
    $("state").textContent = "disconnected, retrying";
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 5000);
  };
}

// ---- text: header bar and the list of subjects ---------------------------------------------

function update() {
  const subjects = subjectsOf(record);
  document.body.dataset.frame = String(record.frame);
  document.body.dataset.subjects = String(subjects.length);
  $("frame").textContent = String(record.frame);
  $("fps").textContent = fps === null ? "–" : fps.toFixed(1);
  const total = record.latency_ms && record.latency_ms.total;
  $("latency").textContent = typeof total === "number" ? total.toFixed(1) : "–";
  const list = $("subjects");
  list.replaceChildren(...subjects.map(subjectItem));
  $("empty").hidden = subjects.length > 0;
  if (!drawPending) {
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; draw(); });
  }
}

function subjectItem(s) {
  const li = document.createElement("li");
  li.style.setProperty("--c", colour(s.id));
  const title = document.createElement("div");
  title.className = "title";
  title.textContent = `${noun()} ${s.id}` + (s.handedness ? ` · ${s.handedness}` : "");
  li.append(title);
  const lines = [[`score ${num(s.score, 2)}`, Array.isArray(s.centre_mm) ? `${num(s.centre_mm[2], 0)} mm away` : ""]];
  if (s.handedness) lines.push([`${s.handedness} with ${num(s.handedness_score, 2)}`]);
  for (const parts of lines) {
    const detail = document.createElement("div");
    detail.className = "detail";
    detail.textContent = parts.filter(Boolean).join(" · ");
    li.append(detail);
  }
  for (const key of ["pinch", "grab"]) {
    if (typeof s[key] !== "number") continue;
    const label = document.createElement("div");
    label.className = "detail";
    label.textContent = `${key} ${num(s[key], 2)}`;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = `${Math.round(100 * Math.min(1, Math.max(0, s[key])))}%`;
    bar.append(fill);
    li.append(label, bar);
  }
  return li;
}

function num(v, digits) { return typeof v === "number" && isFinite(v) ? v.toFixed(digits) : "–"; }

// ---- drawing -------------------------------------------------------------------------------

function imageSize() {
  const k = header && header.intrinsics;
  return k && k.width > 0 && k.height > 0 ? [k.width, k.height] : [640, 480];
}

// Pixel positions of a subject's joints: joints_px when the record has them, else joints_mm
// projected with the header's intrinsics, else an orthographic x/y view around the centre.
function pixels(s) {
  const n = Array.isArray(s.joints_mm) ? s.joints_mm.length : 0;
  if (Array.isArray(s.joints_px) && s.joints_px.length === n) return s.joints_px;
  const k = header && header.intrinsics;
  const [w, h] = imageSize();
  return (s.joints_mm || []).map((p) => {
    if (!Array.isArray(p) || p.some((v) => typeof v !== "number")) return null;
    if (k && p[2] > 1) return [k.fx * p[0] / p[2] + k.cx, k.fy * p[1] / p[2] + k.cy];
    const c = s.centre_mm || [0, 0, 500];
    return [w / 2 + (p[0] - c[0]) * 1.2, h / 2 + (p[1] - c[1]) * 1.2];
  });
}

function draw() {
  const dpr = window.devicePixelRatio || 1;
  const cw = canvas.clientWidth, ch = canvas.clientHeight;
  if (canvas.width !== Math.round(cw * dpr) || canvas.height !== Math.round(ch * dpr)) {
    canvas.width = Math.round(cw * dpr);
    canvas.height = Math.round(ch * dpr);
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cw, ch);
  const [w, h] = imageSize();
  const scale = Math.min((cw - 40) / w, (ch - 40) / h);
  const ox = (cw - w * scale) / 2, oy = (ch - h * scale) / 2;

  // the depth image's frame, with a faint grid every 80 px of the image: the stream carries joints, not
  // pixels (a record is a few KB; the viewers of `run` and its --save-video show the depth itself)
  ctx.fillStyle = "#0b0f13";
  ctx.fillRect(ox, oy, w * scale, h * scale);
  ctx.strokeStyle = "#1c242d";
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let x = 80; x < w; x += 80) { ctx.moveTo(ox + x * scale, oy); ctx.lineTo(ox + x * scale, oy + h * scale); }
  for (let y = 80; y < h; y += 80) { ctx.moveTo(ox, oy + y * scale); ctx.lineTo(ox + w * scale, oy + y * scale); }
  ctx.stroke();
  ctx.strokeStyle = "#2e3a46";
  ctx.strokeRect(ox + 0.5, oy + 0.5, w * scale - 1, h * scale - 1);
  ctx.fillStyle = "#56616d";
  ctx.font = "12px system-ui, 'DejaVu Sans', sans-serif";
  ctx.fillText(`the camera's ${w}×${h} image frame: joints only, the stream carries no depth pixels`, ox + 8, oy + h * scale - 8);
  if (!record) return;

  const bones = (header && Array.isArray(header.bones)) ? header.bones : [];
  const labels = [];
  for (const s of subjectsOf(record)) {
    const c = colour(s.id);
    const conf = Array.isArray(s.confidence) ? s.confidence : [];
    // a joint the camera does not see (the record's "visible": outside the image, behind something):
    // a hollow ring, the bones to it thin and dashed
    const seen = (j) => !Array.isArray(s.visible) || s.visible[j] !== false;
    const pts = pixels(s).map((p) => (p ? [ox + p[0] * scale, oy + p[1] * scale] : null));
    ctx.lineCap = "round";
    ctx.strokeStyle = c;
    for (const hidden of [false, true]) {
      ctx.lineWidth = hidden ? Math.max(1, 1.5 * scale) : Math.max(2, 3 * scale);
      ctx.setLineDash(hidden ? [4, 5] : []);
      ctx.beginPath();
      for (const [a, b] of bones) {
        if (!pts[a] || !pts[b] || (seen(a) && seen(b)) === hidden) continue;
        ctx.moveTo(pts[a][0], pts[a][1]);
        ctx.lineTo(pts[b][0], pts[b][1]);
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
    pts.forEach((p, j) => {
      if (!p) return;
      const q = typeof conf[j] === "number" ? Math.min(1, Math.max(0, conf[j])) : 1;
      ctx.beginPath();
      if (seen(j)) {
        ctx.arc(p[0], p[1], Math.max(2.5, 4.5 * scale) * (0.6 + 0.4 * q), 0, 2 * Math.PI);
        ctx.fillStyle = "#ffffff";
        ctx.globalAlpha = 0.35 + 0.65 * q;
        ctx.fill();
        ctx.globalAlpha = 1;
      } else {
        ctx.arc(p[0], p[1], Math.max(2.5, 4.5 * scale), 0, 2 * Math.PI);
      }
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = c;
      ctx.stroke();
    });
    drawPalmNormal(s, ox, oy, scale);
    const shown = pts.filter(Boolean);
    if (shown.length) {
      const top = shown.reduce((a, b) => (b[1] < a[1] ? b : a));
      const label = `${noun()} ${s.id}` + (s.handedness ? ` ${s.handedness}` : "") + `  ${num(s.score, 2)}`;
      ctx.font = "600 13px system-ui, 'DejaVu Sans', sans-serif";
      const tw = ctx.measureText(label).width;
      const lx = Math.min(Math.max(top[0] - tw / 2 - 6, ox + 4), ox + w * scale - tw - 16);
      let ly = Math.max(top[1] - 30, oy + 4);
      // one label above another rather than on top of it
      const hits = (y) => labels.some((r) => lx < r[0] + r[2] && r[0] < lx + tw + 12 && y < r[1] + 22 && r[1] < y + 22);
      for (let tries = 0; tries < 8 && hits(ly); tries++) ly = ly - 24 < oy + 4 ? ly + 48 : ly - 24;
      labels.push([lx, ly, tw + 12]);
      ctx.fillStyle = "rgba(16, 20, 24, 0.85)";
      ctx.fillRect(lx, ly, tw + 12, 20);
      ctx.fillStyle = c;
      ctx.fillRect(lx, ly, 3, 20);
      ctx.fillStyle = "#e8edf2";
      ctx.fillText(label, lx + 7, ly + 14);
    }
  }
}

// A hand's palm normal (the record's palm: position_mm, normal): an arrow 60 mm out of the palm's centre,
// projected with the header's intrinsics.
function drawPalmNormal(s, ox, oy, scale) {
  const k = header && header.intrinsics;
  const p = s.palm;
  if (!k || !p || !Array.isArray(p.position_mm) || !Array.isArray(p.normal)) return;
  const ends = [p.position_mm, p.position_mm.map((v, i) => v + 60 * p.normal[i])];
  if (ends.some((e) => e.some((v) => typeof v !== "number") || e[2] <= 1)) return;
  const [a, b] = ends.map((e) => [ox + (k.fx * e[0] / e[2] + k.cx) * scale, oy + (k.fy * e[1] / e[2] + k.cy) * scale]);
  const angle = Math.atan2(b[1] - a[1], b[0] - a[0]);
  const head = Math.max(6, 10 * scale);
  ctx.strokeStyle = "#00ffff";
  ctx.fillStyle = "#00ffff";
  ctx.lineWidth = Math.max(2, 2.5 * scale);
  ctx.beginPath();
  ctx.moveTo(a[0], a[1]);
  ctx.lineTo(b[0], b[1]);
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(b[0], b[1]);
  ctx.lineTo(b[0] - head * Math.cos(angle - 0.45), b[1] - head * Math.sin(angle - 0.45));
  ctx.lineTo(b[0] - head * Math.cos(angle + 0.45), b[1] - head * Math.sin(angle + 0.45));
  ctx.closePath();
  ctx.fill();
}

window.addEventListener("resize", () => draw());
draw();
connect();
