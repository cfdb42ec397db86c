// iqa review: the page. Plain JavaScript, no build step, no network but this server.
// It talks to the JSON API documented in docs/review.md.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const VIEWS = ["side", "slider", "onion", "diff", "heatmap", "mask"];
  const TWO = ["slider", "onion", "diff"]; // views that need both images
  const CACHE_PIXELS = 32e6; // decoded pixels kept for the readout (4 bytes each); the current pair always stays

  const state = {
    pairs: [],
    index: -1,
    view: "side", // the view asked for; a pair without its images shows another
    shown: null, // the view on screen
    z: 1, tx: 0, ty: 0,
    fitted: true, // zoomed to fit; a view change or a resize fits again
    paneSize: null,
    cursor: null, // the image pixel under the pointer, marked in every pane
    slider: 0.5,
    onion: 0.5,
    gain: 16,
    where: true,
    busy: false,
    token: 0,
    cache: new Map(), // path -> {urls: {kind: objectURL}, data: {baseline, output}: ImageData, w, h}
    pixelTimer: 0,
    finished: false,
  };

  // ------------------------------------------------------------------ helpers

  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const pairUrl = (path, what) => "/api/pairs/" + path.split("/").map(encodeURIComponent).join("/") + "/" + what;

  async function api(method, path, body) {
    const opts = { method, headers: {} };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      return { ok: false, status: 0, data: { error: "the review server does not answer (was it stopped?)" } };
    }
    let data;
    try {
      data = await res.json();
    } catch (e) {
      data = { error: res.status + " " + res.statusText };
    }
    return { ok: res.ok, status: res.status, data };
  }

  let toastTimer = 0;
  function toast(text, error) {
    const t = $("toast");
    t.textContent = text;
    t.classList.toggle("error", !!error);
    t.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => t.classList.remove("show"), error ? 7000 : 3500);
  }

  function fmt(v) {
    if (v === null || v === undefined) return "\u2013";
    if (typeof v === "string") return v; // "inf", "nan"
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e6)) return v.toExponential(3);
    return String(Number(v.toPrecision(6)));
  }

  function signed(v) {
    const s = fmt(v);
    return typeof v === "number" && v > 0 ? "+" + s : s;
  }

  const current = () => state.pairs[state.index] || null;
  const has = (p, kind) => p.images.includes(kind);

  function available(view, p) {
    if (view === "side") return has(p, "baseline") || has(p, "output");
    if (TWO.includes(view)) return has(p, "baseline") && has(p, "output");
    return has(p, view);
  }

  // ------------------------------------------------------------------ loading

  async function refresh() {
    const r = await api("GET", "/api/pairs");
    if (!r.ok) {
      toast(r.data.error || "cannot load the pairs", true);
      return false;
    }
    const keep = current() && current().path;
    state.pairs = r.data.pairs;
    const i = state.pairs.findIndex((p) => p.path === keep);
    if (i >= 0) state.index = i;
    renderList();
    renderProgress();
    if (current()) renderPair();
    return true;
  }

  async function loadImages(p) {
    let entry = state.cache.get(p.path);
    if (entry) {
      state.cache.delete(p.path); // most recently used last
      state.cache.set(p.path, entry);
      return entry;
    }
    entry = { urls: {}, data: {}, w: p.width || 0, h: p.height || 0, px: 0 };
    await Promise.all(p.images.map(async (kind) => {
      let blob;
      try {
        const res = await fetch(pairUrl(p.path, kind + ".png"));
        if (!res.ok) return;
        blob = await res.blob();
      } catch (e) {
        return; // the server stopped: the pane says there is no image
      }
      let bmp;
      try {
        bmp = await createImageBitmap(blob, { premultiplyAlpha: "none", colorSpaceConversion: "none" });
      } catch (e) {
        return; // not a picture the browser can decode: shown as missing
      }
      entry.urls[kind] = URL.createObjectURL(blob);
      entry.w = Math.max(entry.w, bmp.width);
      entry.h = Math.max(entry.h, bmp.height);
      if (kind === "baseline" || kind === "output") {
        const c = document.createElement("canvas");
        c.width = bmp.width;
        c.height = bmp.height;
        const ctx = c.getContext("2d", { willReadFrequently: true });
        ctx.drawImage(bmp, 0, 0);
        entry.data[kind] = ctx.getImageData(0, 0, bmp.width, bmp.height);
        entry.px += bmp.width * bmp.height;
      }
      bmp.close();
    }));
    state.cache.set(p.path, entry);
    let total = 0;
    state.cache.forEach((e) => { total += e.px; });
    while (state.cache.size > 1 && total > CACHE_PIXELS) {
      const [old, e] = state.cache.entries().next().value;
      Object.values(e.urls).forEach((u) => URL.revokeObjectURL(u));
      state.cache.delete(old);
      total -= e.px;
    }
    return entry;
  }

  // ------------------------------------------------------------------ the list and the header

  function renderProgress() {
    const todo = state.pairs.filter((p) => p.needs_decision);
    const n = (d) => todo.filter((p) => p.decision === d).length;
    const decided = n("accepted") + n("rejected");
    const passing = state.pairs.length - todo.length;
    $("progress").textContent = `${decided} of ${todo.length} decided \u00b7 ${n("accepted")} accepted \u00b7 ` +
      `${n("rejected")} rejected \u00b7 ${n("skipped")} skipped`;
    $("progress-bar").style.width = (todo.length ? (100 * decided) / todo.length : 100) + "%";
    $("todo-count").textContent = String(todo.length);
    $("pass-count").textContent = String(passing);
  }

  function renderList() {
    const todo = $("todo"), pass = $("passlist");
    todo.textContent = "";
    pass.textContent = "";
    state.pairs.forEach((p, i) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.index = String(i);
      b.dataset.path = p.path;
      b.title = p.path;
      const mark = { accepted: "\u2713", rejected: "\u2717", skipped: "\u2192" }[p.decision] || "";
      b.innerHTML = `<span class="badge ${esc(p.status)}">${esc(p.status)}</span>` +
        `<span class="name"><bdi>${esc(p.path)}</bdi></span><span class="mark ${esc(p.decision || "")}">${mark}</span>`;
      if (i === state.index) b.setAttribute("aria-current", "true");
      b.addEventListener("click", () => select(i));
      li.appendChild(b);
      (p.needs_decision ? todo : pass).appendChild(li);
    });
  }

  // ------------------------------------------------------------------ one pair

  function renderPair() {
    const p = current();
    $("pair-status").className = "badge " + p.status;
    $("pair-status").textContent = p.status;
    $("pair-path").textContent = p.path;
    const d = $("pair-decision");
    d.className = "decision " + (p.decision || "");
    d.textContent = p.decision ? p.decision : "";
    $("pair-reason").textContent = p.reason || "";

    const acc = $("btn-accept");
    acc.disabled = !p.can_accept;
    const verb = { replace: "replace the baseline", add: "add to the baseline", remove: "remove the baseline" }[p.accept_action];
    acc.innerHTML = "Accept" + (verb ? ": " + esc(verb) : "") + " <kbd>a</kbd>";
    acc.title = p.can_accept ? `write ${p.target} now` : (p.refusal || "");
    $("btn-reject").disabled = !p.needs_decision || p.decision === "accepted";
    $("btn-skip").disabled = !p.needs_decision || p.decision === "accepted";
    $("accept-note").textContent = p.can_accept ? "" : (p.needs_decision ? p.refusal || "" : "passes");

    renderGates(p);
    $("where").textContent = p.where || "\u2013";
    const w = $("warnings");
    w.textContent = "";
    for (const text of p.warnings || []) {
      const li = document.createElement("li");
      li.textContent = text;
      w.appendChild(li);
    }
    const files = $("files");
    files.innerHTML = "";
    const rows = [["baseline", p.baseline_file], ["output", p.output_file], ["accept writes", p.target],
      ["size", p.width ? `${p.width} \u00d7 ${p.height} px` : null], ["frames", videoText(p.video)],
      ["display", p.display]];
    for (const [k, v] of rows) {
      if (v === null || v === undefined) continue;
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      files.append(dt, dd);
    }
    $("display-note").textContent = "display: " + p.display;
    renderChart(p);
    document.querySelectorAll(".pairs button").forEach((b) => {
      if (Number(b.dataset.index) === state.index) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    });
  }

  // "frame 5 (0.200 s)": a frame of a video pair's `video` object (worst or pictured)
  function frameText(f) {
    if (!f) return "";
    return "frame " + f.frame + (typeof f.time === "number" ? ` (${f.time.toFixed(3)} s)` : "");
  }

  function videoText(v) {
    if (!v) return null;
    let t = `${v.frames} frame${v.frames === 1 ? "" : "s"}`;
    if (v.reference_frames !== v.distorted_frames) t += ` (baseline ${v.reference_frames}, output ${v.distorted_frames})`;
    if (typeof v.frame_rate === "number") t += `, ${fmt(v.frame_rate)} fps`;
    if (typeof v.duration === "number") t += `, ${fmt(v.duration)} s`;
    return t;
  }

  // a video pair's per-frame chart: an <img> of the server's SVG (the page's CSP has no inline style)
  function renderChart(p) {
    const box = $("chart-box"), img = $("chart");
    $("viewer").parentElement.classList.toggle("with-chart", !!p.chart);
    if (!p.chart) {
      box.hidden = true;
      img.removeAttribute("src");
      delete img.dataset.pair;
      return;
    }
    box.hidden = false;
    const pic = p.video && p.video.pictured;
    if (img.dataset.pair !== p.path) {
      img.dataset.pair = p.path;
      img.alt = `per-frame values of ${p.path}` + (pic ? `; worst ${pic.column} at ${frameText(pic)}` : "");
      img.src = pairUrl(p.path, "chart.svg");
    }
    $("chart-note").textContent = "each point a frame; dashed: the pooled mean; red: the worst frame" +
      (pic && p.images.length ? `; the pictures above are of ${frameText(pic)}, the worst by ${pic.column}` : "");
  }

  function renderGates(p) {
    const t = $("gates");
    if (!p.gates || !p.gates.length) {
      t.innerHTML = `<tr><td class="l muted">${p.status === "ERROR" ? "not checked" : "no gate values (" + esc(p.status) + ")"}</td></tr>`;
      return;
    }
    let h = '<tr><th class="l">gate</th><th>value</th><th>threshold</th><th>margin</th></tr>';
    for (const g of p.gates) {
      const title = (g.passed ? "passes" : "FAILS") + (g.note ? ": " + g.note : "");
      h += `<tr class="${g.passed ? "" : "bad"}" title="${esc(title)}"><td class="l">` +
        `<span class="verdict" aria-label="${g.passed ? "passes" : "fails"}">${g.passed ? "\u2713" : "\u2717"}</span> ${esc(g.gate)}</td>` +
        `<td>${esc(fmt(g.value))}</td><td>${esc(g.op + " " + fmt(g.threshold))}</td><td>${esc(signed(g.margin))}</td></tr>`;
      if (g.note) h += `<tr class="note"><td class="l muted" colspan="4">${esc(g.note)}</td></tr>`;
    }
    t.innerHTML = h;
  }

  async function select(i, keepView) {
    if (i < 0 || i >= state.pairs.length) return;
    state.index = i;
    showSection("pair-view");
    renderPair();
    const p = current();
    const token = ++state.token;
    const viewer = $("viewer");
    viewer.innerHTML = '<div class="no-image">loading\u2026</div>';
    viewer.dataset.pair = p.path;
    delete viewer.dataset.ready;
    $("readout").textContent = "move over the image for pixel values; wheel to zoom, drag to pan";
    state.cursor = null;
    const entry = await loadImages(p);
    if (token !== state.token) return;
    buildViewer(p, entry);
    fit();
    viewer.dataset.ready = "1";
    const li = document.querySelector(`.pairs button[data-index="${i}"]`);
    if (li) {
      if (!p.needs_decision) $("passing").open = true;
      li.scrollIntoView({ block: "nearest" });
    }
  }

  // ------------------------------------------------------------------ the viewer

  function setView(view) {
    state.view = view;
    const p = current();
    if (p && state.cache.has(p.path)) {
      const before = paneSize();
      buildViewer(p, state.cache.get(p.path));
      keepCentre(before);
    }
  }

  function paneSize() {
    const first = panes()[0];
    if (!first) return null;
    const r = first.getBoundingClientRect();
    return { w: r.width, h: r.height };
  }

  // after the panes changed size: refit, or keep the image point that was in the middle in the middle
  function keepCentre(before) {
    const after = paneSize();
    if (state.fitted || !before || !after) {
      fit();
      return;
    }
    const cx = (before.w / 2 - state.tx) / state.z, cy = (before.h / 2 - state.ty) / state.z;
    state.tx = after.w / 2 - cx * state.z;
    state.ty = after.h / 2 - cy * state.z;
    applyTransform();
  }

  function layer(entry, kind, extraClass) {
    const img = document.createElement("img");
    img.className = "layer " + kind + (extraClass ? " " + extraClass : "");
    img.alt = kind;
    img.draggable = false;
    img.src = entry.urls[kind];
    return img;
  }

  function makePane(entry, label, p, rightLabel) {
    const pane = document.createElement("div");
    pane.className = "pane";
    const stage = document.createElement("div");
    stage.className = "stage";
    stage.style.width = entry.w + "px";
    stage.style.height = entry.h + "px";
    pane.appendChild(stage);
    const lab = document.createElement("span");
    lab.className = "pane-label";
    lab.textContent = label;
    pane.appendChild(lab);
    if (rightLabel) {
      const r = document.createElement("span");
      r.className = "pane-label right";
      r.textContent = rightLabel;
      pane.appendChild(r);
    }
    // the marks live in screen space (placed by applyTransform), so their lines stay thin at any zoom
    if (p.where_box) {
      const box = document.createElement("div");
      box.className = "where-box";
      box.title = p.where || "";
      pane.appendChild(box);
    }
    const mark = document.createElement("div");
    mark.className = "cursor-mark";
    pane.appendChild(mark);
    wirePane(pane);
    return { pane, stage };
  }

  function buildViewer(pair, entry) {
    const p = { ...pair, images: pair.images.filter((k) => entry.urls[k]) }; // the pictures that did load
    const viewer = $("viewer");
    viewer.textContent = "";
    let view = state.view;
    if (!available(view, p)) view = VIEWS.find((v) => available(v, p)) || null;
    state.shown = view;
    viewer.dataset.view = view || "";
    document.querySelectorAll(".views button").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.view === view));
      b.disabled = !available(b.dataset.view, p);
    });
    $("ctl-slider").hidden = view !== "slider";
    $("ctl-onion").hidden = view !== "onion";
    $("ctl-diff").hidden = view !== "diff";
    viewer.classList.toggle("no-where", !state.where);
    if (!view || !Object.keys(entry.urls).length) {
      const why = p.reason || (p.needs_decision ? "" : "it passes (pictures are kept for the pairs that need a decision)");
      viewer.innerHTML = `<div class="no-image">no images for this pair${why ? ": " + esc(why) : ""}</div>`;
      return;
    }
    const pic = p.video && p.video.pictured; // a video pair: the pictures are of this frame
    const add = (label, kinds, right) => {
      if (pic && kinds.length) label += ", " + frameText(pic);
      const { pane, stage } = makePane(entry, label, p, right);
      for (const k of kinds) stage.appendChild(k);
      viewer.appendChild(pane);
      return { pane, stage };
    };
    if (view === "side") {
      const none = { NEW: "none: a new output", MISSING: "none: the output is missing" }[p.status] || "could not be read";
      if (has(p, "baseline")) add("baseline", [layer(entry, "baseline")]);
      else add("baseline: " + none, []);
      if (has(p, "output")) add("output", [layer(entry, "output")]);
      else add("output: " + none, []);
    } else if (view === "slider") {
      const out = layer(entry, "output", "clipped");
      const { pane } = add("baseline", [layer(entry, "baseline"), out], "output");
      const div = document.createElement("div");
      div.className = "divider";
      div.innerHTML = '<div class="handle" title="drag">\u2194</div>';
      pane.appendChild(div);
      wireDivider(pane, div.firstChild);
    } else if (view === "onion") {
      const out = layer(entry, "output", "onion");
      out.style.opacity = String(state.onion);
      add(`output over baseline`, [layer(entry, "baseline"), out]);
      $("onion-value").textContent = Math.round(state.onion * 100) + "%";
    } else if (view === "diff") {
      add("|baseline \u2212 output| \u00d7 " + (state.gain >= 255 ? "any" : state.gain), [diffCanvas(entry)]);
    } else if (view === "heatmap") {
      add("SSIM heatmap (1 \u2212 SSIM)", [layer(entry, "heatmap")]);
    } else if (view === "mask") {
      add("changed pixels", [layer(entry, "mask")]);
    }
  }

  function diffCanvas(entry) {
    const a = entry.data.baseline, b = entry.data.output;
    const c = document.createElement("canvas");
    c.className = "layer diff";
    c.width = entry.w;
    c.height = entry.h;
    const ctx = c.getContext("2d");
    const out = ctx.createImageData(entry.w, entry.h);
    const o = out.data, g = state.gain;
    for (let y = 0; y < entry.h; y++) {
      for (let x = 0; x < entry.w; x++) {
        const k = (y * entry.w + x) * 4;
        if (!a || !b || x >= a.width || y >= a.height || x >= b.width || y >= b.height) {
          o[k] = 255; o[k + 1] = 0; o[k + 2] = 255; o[k + 3] = 255; // outside one of them: magenta
          continue;
        }
        const ia = (y * a.width + x) * 4, ib = (y * b.width + x) * 4;
        for (let ch = 0; ch < 3; ch++) {
          const d = Math.abs(a.data[ia + ch] - b.data[ib + ch]);
          o[k + ch] = g >= 255 ? (d ? 255 : 0) : Math.min(255, d * g);
        }
        o[k + 3] = 255;
      }
    }
    ctx.putImageData(out, 0, 0);
    return c;
  }

  function panes() {
    return Array.from($("viewer").querySelectorAll(".pane"));
  }

  function applyTransform() {
    const viewer = $("viewer");
    for (const st of viewer.querySelectorAll(".stage")) {
      st.style.transform = `translate(${state.tx}px, ${state.ty}px) scale(${state.z})`;
    }
    viewer.classList.toggle("pixelated", state.z >= 1.5);
    placeMarks();
    $("zoom-level").textContent = Math.round(state.z * 100) + "%";
    state.paneSize = paneSize(); // what a resize is measured against
    updateSlider();
  }

  function placeMarks() {
    const p = current();
    const b = p && p.where_box;
    const z = state.z;
    for (const box of $("viewer").querySelectorAll(".where-box")) {
      if (!b) continue;
      box.style.left = state.tx + b.x0 * z - 2 + "px"; // the 2 px line sits just outside the changed pixels
      box.style.top = state.ty + b.y0 * z - 2 + "px";
      box.style.width = (b.x1 - b.x0 + 1) * z + "px";
      box.style.height = (b.y1 - b.y0 + 1) * z + "px";
    }
    const c = state.cursor;
    const side = Math.max(z, 5);
    for (const m of $("viewer").querySelectorAll(".cursor-mark")) {
      m.style.display = c ? "block" : "none";
      if (!c) continue;
      m.style.left = state.tx + (c.x + 0.5) * z - side / 2 - 1 + "px";
      m.style.top = state.ty + (c.y + 0.5) * z - side / 2 - 1 + "px";
      m.style.width = side + "px";
      m.style.height = side + "px";
    }
  }

  function fit() {
    const p = current();
    const entry = p && state.cache.get(p.path);
    const first = panes()[0];
    if (!entry || !first || !entry.w) return;
    const r = first.getBoundingClientRect();
    state.z = Math.min((r.width - 8) / entry.w, (r.height - 8) / entry.h, 32);
    state.tx = (r.width - entry.w * state.z) / 2;
    state.ty = (r.height - entry.h * state.z) / 2;
    state.fitted = true;
    applyTransform();
  }

  function actualPixels() {
    const first = panes()[0];
    if (!first) return;
    const r = first.getBoundingClientRect();
    zoomAt(r.width / 2, r.height / 2, 1 / state.z);
  }

  function zoomAt(mx, my, factor) {
    const z2 = Math.min(64, Math.max(0.02, state.z * factor));
    state.tx = mx - (mx - state.tx) * (z2 / state.z);
    state.ty = my - (my - state.ty) * (z2 / state.z);
    state.z = z2;
    state.fitted = false;
    applyTransform();
  }

  function wirePane(pane) {
    pane.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = pane.getBoundingClientRect();
      zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)));
    }, { passive: false });
    let drag = null;
    pane.addEventListener("pointerdown", (e) => {
      if (e.button !== 0 || e.target.classList.contains("handle")) return;
      drag = { x: e.clientX, y: e.clientY };
      pane.setPointerCapture(e.pointerId);
      pane.classList.add("dragging");
    });
    pane.addEventListener("pointermove", (e) => {
      if (drag) {
        state.tx += e.clientX - drag.x;
        state.ty += e.clientY - drag.y;
        state.fitted = false;
        drag = { x: e.clientX, y: e.clientY };
        applyTransform();
      }
      const r = pane.getBoundingClientRect();
      readout(Math.floor((e.clientX - r.left - state.tx) / state.z), Math.floor((e.clientY - r.top - state.ty) / state.z));
    });
    const end = (e) => {
      drag = null;
      pane.classList.remove("dragging");
      if (pane.hasPointerCapture && pane.hasPointerCapture(e.pointerId)) pane.releasePointerCapture(e.pointerId);
    };
    pane.addEventListener("pointerup", end);
    pane.addEventListener("pointercancel", end);
    pane.addEventListener("pointerleave", () => readout(-1, -1));
    pane.addEventListener("dblclick", fit);
  }

  function wireDivider(pane, handle) {
    let on = false;
    handle.addEventListener("pointerdown", (e) => {
      e.stopPropagation();
      on = true;
      handle.setPointerCapture(e.pointerId);
    });
    handle.addEventListener("pointermove", (e) => {
      if (!on) return;
      const r = pane.getBoundingClientRect();
      state.slider = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
      $("slider-range").value = String(Math.round(state.slider * 1000));
      updateSlider();
    });
    const end = () => { on = false; };
    handle.addEventListener("pointerup", end);
    handle.addEventListener("pointercancel", end);
  }

  function updateSlider() {
    if (state.shown !== "slider") return;
    const pane = panes()[0];
    const out = pane && pane.querySelector(".layer.output");
    const div = pane && pane.querySelector(".divider");
    if (!out || !div) return;
    const w = pane.getBoundingClientRect().width;
    const sx = state.slider * w;
    div.style.left = sx + "px";
    const entry = state.cache.get(current().path);
    const ix = Math.min(entry.w, Math.max(0, (sx - state.tx) / state.z));
    out.style.clipPath = `inset(0 0 0 ${ix}px)`;
    out.dataset.clipX = String(Math.round(ix));
  }

  // ------------------------------------------------------------------ pixel values

  function sample(img, x, y) {
    if (!img || x < 0 || y < 0 || x >= img.width || y >= img.height) return null;
    const k = (y * img.width + x) * 4;
    return [img.data[k], img.data[k + 1], img.data[k + 2], img.data[k + 3]];
  }

  function readout(x, y) {
    const p = current();
    const entry = p && state.cache.get(p.path);
    if (!entry || x < 0 || y < 0 || x >= entry.w || y >= entry.h) {
      state.cursor = null;
      placeMarks();
      return;
    }
    state.cursor = { x, y };
    placeMarks();
    const a = sample(entry.data.baseline, x, y), b = sample(entry.data.output, x, y);
    const show = (v) => (v ? `${v[0]} ${v[1]} ${v[2]}` + (v[3] !== 255 ? ` a${v[3]}` : "") : "\u2013");
    let text = `x ${x}  y ${y}    baseline ${show(a)}    output ${show(b)}`;
    if (a && b) text += `    \u0394 ${b[0] - a[0]} ${b[1] - a[1]} ${b[2] - a[2]}`;
    if (p.display !== "8-bit as stored") text += `    (display values: ${p.display})`;
    $("readout").textContent = text;
    if (p.raw_pixels) {
      clearTimeout(state.pixelTimer);
      state.pixelTimer = setTimeout(async () => {
        const r = await api("GET", pairUrl(p.path, `pixel?x=${x}&y=${y}`));
        if (r.ok && current() === p) {
          const v = (s) => (s ? s.map(fmt).join(" ") : "\u2013");
          $("readout").textContent = text + `\nraw samples    baseline ${v(r.data.baseline)}    output ${v(r.data.output)}`;
        }
      }, 60);
    }
  }

  // ------------------------------------------------------------------ decisions

  function changedText(changed) {
    return changed.map((c) => `${c.action} ${c.file}`).join("\n");
  }

  function refusedText(data) {
    if (data.error) return data.error;
    return (data.refused || []).map((r) => (r.path ? r.path + ": " : "") + r.reason).join("\n") || "refused";
  }

  function nextOpen(from) {
    const n = state.pairs.length;
    for (let k = 1; k <= n; k++) {
      const i = (from + k) % n;
      const p = state.pairs[i];
      if (p.needs_decision && !p.decision) return i;
    }
    return -1;
  }

  async function decide(kind) {
    const p = current();
    if (!p || state.busy || state.finished) return;
    if (kind === "accept" && !p.can_accept) {
      toast(p.refusal || "cannot be accepted", true);
      return;
    }
    state.busy = true;
    document.body.dataset.busy = "1";
    try {
      const r = await api("POST", "/api/" + kind, { pairs: [p.path] });
      if (!r.ok) {
        toast(refusedText(r.data), true);
        await refresh();
        return;
      }
      toast(kind === "accept" ? changedText(r.data.changed) : `${{ reject: "rejected", skip: "skipped" }[kind]} ${p.path}`);
      await refresh();
      const i = nextOpen(state.index);
      if (i >= 0) await select(i);
      else await showSummary();
    } finally {
      state.busy = false;
      document.body.dataset.busy = "0";
    }
  }

  async function undo() {
    if (state.busy || state.finished) return;
    state.busy = true;
    document.body.dataset.busy = "1";
    try {
      const r = await api("POST", "/api/undo", {});
      if (!r.ok) {
        toast(refusedText(r.data), true);
        return;
      }
      toast("undone:\n" + changedText(r.data.changed));
      await refresh();
      const path = Object.keys(r.data.decisions || {})[0];
      const i = state.pairs.findIndex((p) => p.path === path);
      if (i >= 0) await select(i);
    } finally {
      state.busy = false;
      document.body.dataset.busy = "0";
    }
  }

  function move(step) {
    if (!state.pairs.length) return;
    const n = state.pairs.length;
    const todo = state.pairs.map((p, i) => [p, i]).filter(([p]) => p.needs_decision).map(([, i]) => i);
    const pool = todo.length && (state.index < 0 || state.pairs[state.index].needs_decision) ? todo : [...Array(n).keys()];
    const at = pool.indexOf(state.index);
    const next = at < 0 ? pool[0] : pool[(at + step + pool.length) % pool.length];
    select(next);
  }

  // ------------------------------------------------------------------ summary

  function showSection(id) {
    for (const s of ["pair-view", "summary-view", "empty-view"]) $(s).hidden = s !== id;
  }

  async function showSummary() {
    const r = await api("GET", "/api/summary");
    if (!r.ok) {
      toast(r.data.error || "cannot load the summary", true);
      return;
    }
    const s = r.data;
    const list = (title, items) => `<section><h3>${esc(title)} (${items.length})</h3><ul>` +
      items.map((x) => `<li>${esc(x)}</li>`).join("") + "</ul></section>";
    const changes = (s.changes || []).map((c) =>
      `<li>${esc(c.action)} ${esc(c.file)}${c.new_sha256 ? " (sha256 " + esc(c.new_sha256.slice(0, 12)) + "\u2026)" : ""}</li>`).join("");
    $("summary-body").innerHTML =
      `<div class="summary-grid">${list("Accepted", s.accepted)}${list("Rejected", s.rejected)}` +
      `${list("Skipped", s.skipped)}${list("Left", s.left)}</div>` +
      `<h3>Changed in the baseline</h3>${changes ? `<ul class="changes">${changes}</ul>` : '<p class="muted">nothing</p>'}` +
      `<p class="muted">${s.passed} passing pair(s) not shown. Undo log: <code>${esc(s.log)}</code></p>`;
    showSection("summary-view");
  }

  async function finish() {
    const r = await api("POST", "/api/finish", {});
    if (!r.ok) {
      toast(r.data.error || "cannot finish", true);
      return;
    }
    state.finished = true;
    document.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    $("summary-body").insertAdjacentHTML("afterbegin",
      '<p class="reason"><strong>Finished.</strong> The server has stopped; the summary is printed in the terminal. You can close this tab.</p>');
  }

  // ------------------------------------------------------------------ wiring

  function wire() {
    document.querySelectorAll(".views button").forEach((b) => b.addEventListener("click", () => setView(b.dataset.view)));
    $("btn-accept").addEventListener("click", () => decide("accept"));
    $("btn-reject").addEventListener("click", () => decide("reject"));
    $("btn-skip").addEventListener("click", () => decide("skip"));
    $("btn-undo").addEventListener("click", undo);
    $("btn-next").addEventListener("click", () => move(1));
    $("btn-prev").addEventListener("click", () => move(-1));
    $("zoom-fit").addEventListener("click", fit);
    $("zoom-1").addEventListener("click", actualPixels);
    $("show-summary").addEventListener("click", showSummary);
    $("btn-back").addEventListener("click", () => select(Math.max(0, state.index)));
    $("btn-finish").addEventListener("click", finish);
    $("help-open").addEventListener("click", () => $("help").showModal());
    $("help-close").addEventListener("click", () => $("help").close());
    $("slider-range").addEventListener("input", (e) => {
      state.slider = Number(e.target.value) / 1000;
      updateSlider();
    });
    $("onion-range").addEventListener("input", (e) => {
      state.onion = Number(e.target.value) / 100;
      const out = $("viewer").querySelector(".layer.onion");
      if (out) out.style.opacity = String(state.onion);
      $("onion-value").textContent = e.target.value + "%";
    });
    $("diff-gain").addEventListener("change", (e) => {
      state.gain = Number(e.target.value);
      setView("diff");
    });
    $("show-where").addEventListener("change", (e) => {
      state.where = e.target.checked;
      $("viewer").classList.toggle("no-where", !state.where);
    });
    window.addEventListener("resize", () => { if (current()) keepCentre(state.paneSize); });
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey || state.finished) return;
      const t = e.target;
      if (t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || (t.tagName === "INPUT" && t.type === "text"))) return;
      if ($("help").open) return;
      const key = e.key;
      const act = {
        a: () => decide("accept"), r: () => decide("reject"), s: () => decide("skip"), u: undo,
        j: () => move(1), k: () => move(-1), f: fit, 0: actualPixels,
        "+": () => zoomCentre(1.25), "=": () => zoomCentre(1.25), "-": () => zoomCentre(0.8),
        w: () => { $("show-where").checked = !$("show-where").checked; $("show-where").dispatchEvent(new Event("change")); },
        "?": () => $("help").showModal(),
      }[key];
      const n = Number(key);
      if (act) {
        e.preventDefault();
        if (!$("pair-view").hidden || ["u", "?"].includes(key) || ["j", "k"].includes(key)) act();
      } else if (n >= 1 && n <= VIEWS.length && !$("pair-view").hidden) {
        e.preventDefault();
        setView(VIEWS[n - 1]);
      }
    });
  }

  function zoomCentre(f) {
    const first = panes()[0];
    if (!first) return;
    const r = first.getBoundingClientRect();
    zoomAt(r.width / 2, r.height / 2, f);
  }

  async function start() {
    wire();
    if (!(await refresh())) return;
    if (!state.pairs.some((p) => p.needs_decision)) {
      showSection("empty-view");
      if (state.pairs.length) {
        $("passing").open = true;
      }
    } else {
      const i = nextOpen(-1);
      await select(i >= 0 ? i : state.pairs.findIndex((p) => p.needs_decision));
    }
    document.body.dataset.ready = "1";
  }

  start();
})();
