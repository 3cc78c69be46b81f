// The status page: polls status.json once a second and snapshot.jpg for the live view.
// Plain JavaScript, no libraries: it has to work offline on the appliance.
"use strict";

const COLOURS = ["#c62828", "#1565c0", "#ef6c00", "#6a1b9a", "#2e7d32", "#00838f", "#ad1457", "#4e342e"];
const byId = (id) => document.getElementById(id);

function text(id, value) { byId(id).textContent = value; }

function duration(seconds) {
  const s = Math.floor(seconds), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
  const m = Math.floor(s % 3600 / 60), r = s % 60;
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  return m ? `${m} min ${r} s` : `${r} s`;
}

function signedOut(response) {
  if (response.status === 401) { window.location.reload(); return true; }  // back to the sign-in form
  return false;
}

function health(status) {
  const pill = byId("health");
  if (status.selftest !== "passed") {
    pill.textContent = `self-test ${status.selftest}: frames blacked out`; pill.className = "pill bad";
  } else if (status.frames === 0) {
    pill.textContent = "starting"; pill.className = "pill warn";
  } else {
    pill.textContent = "protecting"; pill.className = "pill ok";
  }
}

function kindColour(kinds, kind) { return COLOURS[kinds.indexOf(kind) % COLOURS.length]; }

function errorsChart(status) {
  const svg = byId("errors-chart"), minutes = 60, width = 600, height = 120;
  const kinds = Object.keys(status.errors).sort();
  const buckets = Array.from({ length: minutes }, () => ({}));
  for (const e of status.recent_errors) {
    const age = Math.floor((status.time - e.time) / 60);
    if (age >= 0 && age < minutes) {
      const b = buckets[minutes - 1 - age];
      b[e.kind] = (b[e.kind] || 0) + 1;
    }
  }
  const peak = Math.max(1, ...buckets.map((b) => Object.values(b).reduce((a, v) => a + v, 0)));
  const bar = width / minutes;
  let shapes = "";
  buckets.forEach((b, i) => {
    let y = height;
    for (const kind of kinds) {
      const h = (b[kind] || 0) / peak * (height - 10);
      if (h > 0) {
        y -= h;
        shapes += `<rect x="${(i * bar + 1).toFixed(1)}" y="${y.toFixed(1)}" width="${(bar - 2).toFixed(1)}" ` +
                  `height="${h.toFixed(1)}" fill="${kindColour(kinds, kind)}"><title>${kind}: ${b[kind]}</title></rect>`;
      }
    }
  });
  svg.innerHTML = shapes + `<text x="4" y="12" font-size="10" fill="#667085">peak ${peak}/min</text>`;
  byId("errors-legend").innerHTML = kinds.length ? kinds.map((k) =>
    `<span><i style="background:${kindColour(kinds, k)}"></i>${k}: ${status.errors[k]} in all</span>`).join("")
    : '<span class="muted">no errors since start</span>';
  const rows = status.recent_errors.slice(-10).reverse();
  byId("recent-errors").tBodies[0].innerHTML = rows.map(() => "<tr><td></td><td></td><td></td></tr>").join("");
  rows.forEach((e, i) => {  // textContent: messages are never parsed as HTML
    const cells = byId("recent-errors").tBodies[0].rows[i].cells;
    cells[0].textContent = new Date(e.time * 1000).toLocaleTimeString();
    cells[1].textContent = e.kind;
    cells[2].textContent = e.message;
  });
}

function configTable(config) {
  const sections = [];
  for (const [section, values] of Object.entries(config)) {
    const box = document.createElement("div");
    const title = document.createElement("h3");
    title.textContent = `[${section}]`;
    const table = document.createElement("table");
    for (const [key, value] of Object.entries(values)) {
      const row = table.insertRow();
      const k = row.insertCell(), v = row.insertCell();
      k.className = "config-key";
      k.textContent = `${section}.${key}`;
      v.textContent = JSON.stringify(value);
    }
    box.append(title, table);
    sections.push(box);
  }
  byId("config").replaceChildren(...sections);
}

let configShown = false;

async function refreshStatus() {
  try {
    const response = await fetch("status.json", { cache: "no-store", credentials: "same-origin" });
    if (signedOut(response) || !response.ok) return;
    const s = await response.json();
    health(s);
    text("source", s.source);
    text("persons", s.persons);
    text("fps", s.fps ? s.fps.toFixed(1) : "–");
    text("inference", s.inference_ms ? `${s.inference_ms.toFixed(1)} ms` : "–");
    text("fail-safe", s.fail_safe_frames);
    text("frames", s.frames);
    text("uptime", duration(s.uptime_s));
    text("model", s.model); text("backend", s.backend); text("accelerator", s.accelerator);
    text("effect", s.effect); text("selftest", s.selftest); text("version", s.version);
    errorsChart(s);
    if (!configShown) { configTable(s.config); configShown = true; }
  } catch (error) {
    byId("health").textContent = "daemon unreachable"; byId("health").className = "pill bad";
  }
}

let liveUrl = null;

async function refreshLive() {
  try {
    const response = await fetch("snapshot.jpg", { cache: "no-store", credentials: "same-origin" });
    if (signedOut(response)) return;
    if (response.ok) {
      const index = response.headers.get("X-Frame-Index"), persons = response.headers.get("X-Persons");
      const full = response.headers.get("X-Fully-Protected") === "1";
      const url = URL.createObjectURL(await response.blob());
      const img = byId("live");
      img.src = url;
      img.dataset.frameIndex = index;
      if (liveUrl) URL.revokeObjectURL(liveUrl);
      liveUrl = url;
      text("live-caption", `frame ${index}, ${persons < 0 ? "people unknown" : persons + (persons === "1" ? " person" : " people")}` +
           (full ? ", fully protected (fail-safe)" : ""));
    }
  } catch (error) { /* the status poll reports an unreachable daemon */ }
  setTimeout(refreshLive, document.hidden ? 2000 : 150);
}

refreshStatus();
setInterval(refreshStatus, 1000);
refreshLive();
