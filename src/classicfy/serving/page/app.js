// The page of `classicfy serve`: upload a recording, show the answer and its timeline. No libraries.
"use strict";

const COLOURS = ["#3b5bdb", "#e8590c", "#2f9e44", "#c2255c", "#7048e8", "#0c8599", "#f08c00", "#495057"];
const $ = (id) => document.getElementById(id);

function show(id, visible) { $(id).hidden = !visible; }

function percent(p) { return `${(100 * p).toFixed(1)}%`; }

async function loadModel() {
  const model = await (await fetch("/v1/model")).json();
  $("model-line").textContent = `Run ${model.run}: ${model.labels.length} labels, ${model.models.join(", ")}.`;
  const facts = $("model-facts");
  const add = (term, text) => {
    const dt = document.createElement("dt"); dt.textContent = term;
    const dd = document.createElement("dd"); dd.textContent = text;
    facts.append(dt, dd);
  };
  add("labels", model.labels.join(", "));
  add("ensemble", Object.entries(model.ensemble).map(([m, w]) => `${m} ${w.toFixed(2)}`).join(", "));
  for (const [name, levels] of Object.entries(model.metrics)) {
    const recording = levels.recording || levels.segment;
    if (recording) add(`${name}, test macro-F1`, recording.macro_f1.toFixed(3));
  }
}

function drawBars(answer) {
  const bars = $("bars");
  bars.replaceChildren();
  for (const item of answer.top_k) {
    const row = document.createElement("div"); row.className = "row";
    const name = document.createElement("span"); name.textContent = item.label;
    const track = document.createElement("div"); track.className = "track";
    const fill = document.createElement("div"); fill.className = "fill"; fill.style.width = percent(item.probability);
    const value = document.createElement("span"); value.className = "value"; value.textContent = percent(item.probability);
    track.append(fill); row.append(name, track, value); bars.append(row);
  }
}

function drawTimeline(answer) {
  const canvas = $("timeline");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight || 220;
  canvas.width = width * ratio; canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const segments = answer.segments;
  const labels = Object.keys(answer.probabilities);
  const end = segments.length ? segments[segments.length - 1].end_s : 1;
  const pad = { left: 34, right: 8, top: 8, bottom: 22 };
  const x = (t) => pad.left + (t / end) * (width - pad.left - pad.right);
  const y = (p) => pad.top + (1 - p) * (height - pad.top - pad.bottom);
  g.strokeStyle = "#d0d5dd"; g.fillStyle = "#667085"; g.font = "11px system-ui";
  for (const p of [0, 0.5, 1]) {
    g.beginPath(); g.moveTo(pad.left, y(p)); g.lineTo(width - pad.right, y(p)); g.stroke();
    g.fillText(p.toFixed(1), 4, y(p) + 4);
  }
  g.fillText("0 s", pad.left, height - 6);
  g.fillText(`${end.toFixed(0)} s`, width - pad.right - 40, height - 6);
  labels.forEach((label, i) => {
    g.strokeStyle = COLOURS[i % COLOURS.length]; g.lineWidth = label === answer.label ? 2.5 : 1.5;
    g.beginPath();
    segments.forEach((s, j) => {
      const t = (s.start_s + s.end_s) / 2, p = s.probabilities[label];
      if (j === 0) g.moveTo(x(t), y(p)); else g.lineTo(x(t), y(p));
    });
    g.stroke();
  });
  const legend = $("legend");
  legend.replaceChildren(...labels.map((label, i) => {
    const item = document.createElement("span");
    const swatch = document.createElement("i"); swatch.style.background = COLOURS[i % COLOURS.length];
    item.append(swatch, label); return item;
  }));
}

function showAnswer(answer) {
  $("answer-label").textContent = answer.label;
  $("answer-probability").textContent = percent(answer.probability);
  $("answer-file").textContent = `${answer.path}: ${answer.windows} windows`;
  show("answer", true);
  drawBars(answer);
  drawTimeline(answer);
  document.body.dataset.state = "answered";
}

function classify(file) {
  show("error", false); show("answer", false); show("progress", true);
  document.body.dataset.state = "working";
  $("progress-fill").style.width = "0"; $("progress-text").textContent = `Uploading ${file.name}…`;
  const form = new FormData(); form.append("file", file);
  const request = new XMLHttpRequest();
  request.open("POST", "/v1/predict");
  request.upload.onprogress = (event) => {
    if (!event.lengthComputable) return;
    $("progress-fill").style.width = percent(event.loaded / event.total);
    if (event.loaded === event.total) $("progress-text").textContent = "Listening…";
  };
  request.onload = () => {
    show("progress", false);
    let body = {};
    try { body = JSON.parse(request.responseText); } catch (e) { body = { error: request.statusText }; }
    if (request.status === 200) showAnswer(body);
    else fail(body.error || `the server answered ${request.status}`);
  };
  request.onerror = () => { show("progress", false); fail("the server could not be reached"); };
  request.send(form);
}

function fail(message) {
  $("error").textContent = message; show("error", true);
  document.body.dataset.state = "failed";
}

$("file").addEventListener("change", (event) => { if (event.target.files.length) classify(event.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault(); drop.classList.remove("over");
  if (event.dataTransfer.files.length) classify(event.dataTransfer.files[0]);
});
loadModel().catch(() => { $("model-line").textContent = "The model could not be read."; });
