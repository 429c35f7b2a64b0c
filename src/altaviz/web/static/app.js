// Altaviz web app: CSRF on htmx calls, live refresh, the worklist's select-all, and the
// unit page's charts (uPlot). No inline scripts: the page's CSP allows only this file.
(function () {
  "use strict";

  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content;

  document.addEventListener("htmx:configRequest", (event) => {
    const token = csrf();
    if (token) event.detail.headers["X-CSRF-Token"] = token;
  });

  // ---- live: poll the stamp; when it moves, reload the page's content in place (the URL,
  // and so every filter, stays as it is). Skipped while someone is typing in a form.
  let stamp = null;
  async function poll() {
    const live = document.getElementById("live");
    if (!live) return;
    try {
      const response = await fetch(live.dataset.stampUrl, { credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status);
      const next = (await response.json()).stamp;
      live.classList.remove("stale");
      live.title = "Updates when new data lands";
      if (stamp !== null && next !== stamp && !busy()) {
        await htmx.ajax("GET", location.pathname + location.search, {
          target: "#content", select: "#content", swap: "outerHTML",
        });
      }
      stamp = next;
    } catch (error) {
      live.classList.add("stale");
      live.title = "Cannot reach the server; showing the last data received";
    }
  }
  function busy() {
    const active = document.activeElement;
    return active && ["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName) && active.value;
  }

  // ---- worklist: tick every case shown
  document.addEventListener("change", (event) => {
    if (event.target.id === "select-all") {
      document.querySelectorAll('#cases input[name="case_ids"]').forEach((box) => {
        box.checked = event.target.checked;
      });
    }
  });

  // ---- unit page charts
  const COLORS = { mean: "#0b4f6c", band: "rgba(11,79,108,0.15)", warning: "#c77c00",
    critical: "#c62828", learned: "#2e8b57", reading: "#0a5a8a" };
  const NAMES = { vibration_mms: "Vibration", discharge_temp_f: "Discharge temperature",
    suction_pressure_psi: "Suction pressure", discharge_pressure_psi: "Discharge pressure",
    horsepower: "Power", gas_flow_mcf: "Gas flow" };

  function markers(data, sensor) {
    // Alert (red: critical, amber: warning) and maintenance (blue) lines, drawn over the plot.
    return {
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx;
          const top = u.bbox.top, height = u.bbox.height;
          const line = (t, color, dash) => {
            if (t < u.scales.x.min || t > u.scales.x.max) return;
            const x = Math.round(u.valToPos(t, "x", true));
            ctx.save(); ctx.strokeStyle = color; ctx.lineWidth = 2 * devicePixelRatio;
            ctx.setLineDash(dash); ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height);
            ctx.stroke(); ctx.restore();
          };
          data.alerts.filter((a) => !a.sensor || a.sensor === sensor || sensor === "models")
            .forEach((a) => line(a.at, a.severity === "critical" ? COLORS.critical : COLORS.warning, []));
          data.maintenance.forEach((m) => line(m.at, "#1a73e8", [6, 4]));
        }],
      },
    };
  }

  function width(el) { return Math.max(300, el.clientWidth - 8); }

  function sensorChart(el, data, sensor) {
    const s = data.sensors[sensor];
    const hourly = data.hours;
    const limits = s.limits || {};
    const flat = (v, n) => Array(n).fill(v ?? null);
    let xs = hourly, series = [{}], values = [];
    const unit = s.unit ? ` (${s.unit})` : "";
    if (data.readings) {
      // One day: the 5-minute readings over the hourly min-max band, on the readings' clock.
      xs = data.readings.x;
      const at = (arr) => xs.map((t) => { const i = hourly.findIndex((h) => t >= h && t < h + 3600); return i < 0 ? null : arr[i]; });
      values = [data.readings[sensor], at(s.min), at(s.max)];
      series.push({ label: "reading", stroke: COLORS.reading, width: 1.5 });
    } else {
      values = [s.mean, s.min, s.max];
      series.push({ label: "hourly mean", stroke: COLORS.mean, width: 1.5 });
    }
    series.push({ label: "min", stroke: COLORS.band, width: 1 }, { label: "max", stroke: COLORS.band, width: 1 });
    const extra = [
      ["warning high", limits.warning_high, COLORS.warning, [6, 4]],
      ["critical high", limits.critical_high, COLORS.critical, [6, 4]],
      ["warning low", limits.warning_low, COLORS.warning, [6, 4]],
      ["critical low", limits.critical_low, COLORS.critical, [6, 4]],
      ["learned low", limits.band_low, COLORS.learned, [2, 3]],
      ["learned high", limits.band_high, COLORS.learned, [2, 3]],
    ].filter((e) => e[1] !== null && e[1] !== undefined);
    extra.forEach(([label, v, color, dash]) => {
      values.push(flat(v, xs.length));
      series.push({ label, stroke: color, dash, width: 1.5, points: { show: false } });
    });
    const opts = {
      title: NAMES[sensor] + unit, width: width(el), height: 200,
      scales: { x: { time: true, min: data.from, max: data.until } },
      series, bands: [{ series: [3, 2], fill: COLORS.band }],
      legend: { live: false }, cursor: { drag: { x: true, y: false } },
      plugins: [markers(data, sensor)],
    };
    el.setAttribute("data-limits", JSON.stringify(limits));
    return new uPlot(opts, [xs, ...values], el);
  }

  function modelChart(el, data) {
    const m = data.models;
    const opts = {
      title: "Models: anomaly score and hours to failure", width: width(el), height: 200,
      scales: { x: { time: true, min: data.from, max: data.until }, score: { range: [0, 1] }, h: {} },
      axes: [{}, { scale: "score", label: "anomaly score" }, { scale: "h", side: 1, label: "hours", grid: { show: false } }],
      series: [{},
        { label: "anomaly score", stroke: "#5b2a86", width: 1.5, scale: "score" },
        { label: "remaining life (h)", stroke: COLORS.critical, width: 1.5, scale: "h" },
        { label: "drift to critical (h)", stroke: COLORS.warning, width: 1.5, scale: "h" }],
      legend: { live: false }, plugins: [markers(data, "models")],
    };
    return new uPlot(opts, [m.x, m.anomaly_score, m.rul_hours, m.drift_hours_to_critical], el);
  }

  function packingChart(el, data) {
    // Estimated rod-packing vent per cylinder, its one-sigma band, the OOOOb limit, and the
    // unit's measurements and replacements (green lines).
    const p = data.packing;
    const limit = Array(p.x.length).fill(p.limit);
    const records = {
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx;
          p.records.forEach((r) => {
            if (r.at < u.scales.x.min || r.at > u.scales.x.max) return;
            const x = Math.round(u.valToPos(r.at, "x", true));
            ctx.save(); ctx.strokeStyle = COLORS.learned; ctx.lineWidth = 2 * devicePixelRatio;
            ctx.setLineDash(r.kind === "replacement" ? [2, 3] : []);
            ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke(); ctx.restore();
          });
        }],
      },
    };
    const opts = {
      title: "Rod-packing vent, estimated (scf/min per cylinder)", width: width(el), height: 200,
      scales: { x: { time: true, min: data.from, max: data.until } },
      series: [{},
        { label: "estimated vent", stroke: COLORS.mean, width: 1.5 },
        { label: "low", stroke: COLORS.band, width: 1 }, { label: "high", stroke: COLORS.band, width: 1 },
        { label: "OOOOb limit", stroke: COLORS.critical, dash: [6, 4], width: 1.5, points: { show: false } }],
      bands: [{ series: [3, 2], fill: COLORS.band }],
      legend: { live: false }, plugins: [markers(data, "packing_vent_scfm"), records],
    };
    el.setAttribute("data-records", JSON.stringify(p.records));
    return new uPlot(opts, [p.x, p.vent, p.low, p.high, limit], el);
  }

  async function drawCharts(root) {
    const host = root.querySelector("#charts[data-src]");
    if (!host || host.dataset.ready || typeof uPlot === "undefined") return;
    host.dataset.ready = "loading";
    const response = await fetch(host.dataset.src, { credentials: "same-origin" });
    if (!response.ok) { host.innerHTML = '<p class="error">Charts could not be loaded.</p>'; return; }
    const data = await response.json();
    host.innerHTML = "";
    host.dataset.alerts = data.alerts.length;
    host.dataset.alertTimes = JSON.stringify(data.alerts.map((a) => a.at));
    Object.keys(data.sensors).forEach((sensor) => {
      const box = document.createElement("div");
      box.className = "chart"; box.dataset.sensor = sensor;
      host.appendChild(box);
      sensorChart(box, data, sensor);
    });
    const box = document.createElement("div");
    box.className = "chart"; box.dataset.sensor = "models";
    host.appendChild(box);
    modelChart(box, data);
    if (data.packing && data.packing.x.length) {
      const packing = document.createElement("div");
      packing.className = "chart"; packing.dataset.sensor = "packing";
      host.appendChild(packing);
      packingChart(packing, data);
    }
    host.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", () => {
    drawCharts(document);
    const live = document.getElementById("live");
    if (live) {
      poll();
      setInterval(poll, Number(live.dataset.every || 15) * 1000);
    }
  });
  document.addEventListener("htmx:afterSettle", () => drawCharts(document));
})();
