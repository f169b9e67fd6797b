// vestis studio: keyboard review, zoom, bulk selection, the new-job drop zone. Plain JS, no build.
(function () {
  "use strict";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => [...(root || document).querySelectorAll(sel)];

  // --- review: the current card, keys ---------------------------------------------------------
  let currentId = null;
  const cards = () => $$(".cards .card");
  function mark(scroll) {
    const all = cards();
    if (!all.length) return null;
    let card = currentId && document.getElementById(currentId);
    if (!card) { card = all[0]; currentId = card.id; }
    all.forEach((c) => c.classList.toggle("current", c === card));
    if (scroll) card.scrollIntoView({ block: "start", behavior: "instant" });
    return card;
  }
  function move(step) {
    const all = cards();
    const index = all.findIndex((c) => c.id === currentId);
    const next = all[Math.min(all.length - 1, Math.max(0, index + step))];
    if (next) { currentId = next.id; mark(true); }
  }
  function verdict(value) {
    const card = mark(false);
    const button = card && $(`form.review button[value="${value}"]`, card);
    if (!button) return;
    button.click();
    move(1);
  }
  document.addEventListener("htmx:afterSettle", () => mark(false));

  document.addEventListener("click", (e) => {
    const card = e.target.closest && e.target.closest(".cards .card");
    if (card) { currentId = card.id; mark(false); }
  });
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (!$("#zoom") || $("#zoom").hidden) {
      if (e.target.closest("input, textarea, select")) {
        if (e.key === "Escape") e.target.blur();
        return;
      }
      if (!cards().length) return;
      const actions = {
        ArrowDown: () => move(1), ArrowRight: () => move(1), j: () => move(1),
        ArrowUp: () => move(-1), ArrowLeft: () => move(-1), k: () => move(-1),
        a: () => verdict("like"), r: () => verdict("dislike"),
        n: () => { const card = mark(true); card && $("textarea", card).focus(); },
        x: () => { const card = mark(false); const box = card && $(".pick input", card); if (box) box.checked = !box.checked; },
        z: () => openZoom(mark(false)),
      };
      if (actions[e.key]) { e.preventDefault(); actions[e.key](); }
      return;
    }
    const zoomKeys = { Escape: "close", "1": 1, "2": 2, "0": "fit" };
    if (e.key in zoomKeys) { e.preventDefault(); setZoom(zoomKeys[e.key]); }
  });

  // --- zoom: input(s) and output side by side at full size, scrolled together ------------------
  function openZoom(card) {
    const zoom = $("#zoom");
    if (!card || !zoom) return;
    const images = $$("img[data-zoomable]", card);
    if (!images.length) return;
    const panes = $(".zoompanes", zoom);
    panes.replaceChildren(...images.map((img) => {
      const pane = document.createElement("div");
      pane.className = "pane";
      const label = document.createElement("b");
      label.textContent = img.alt;
      const big = document.createElement("img");
      big.src = img.currentSrc || img.src;
      big.alt = img.alt;
      pane.append(label, big);
      pane.addEventListener("scroll", () => sync(pane));
      return pane;
    }));
    $("#zoom-title").textContent = card.dataset.filename || "";
    zoom.hidden = false;
    setZoom(1);
  }
  let syncing = false;
  function sync(source) {
    if (syncing) return;
    syncing = true;
    const fx = source.scrollLeft / Math.max(1, source.scrollWidth - source.clientWidth);
    const fy = source.scrollTop / Math.max(1, source.scrollHeight - source.clientHeight);
    $$("#zoom .pane").forEach((pane) => {
      if (pane === source) return;
      pane.scrollLeft = fx * (pane.scrollWidth - pane.clientWidth);
      pane.scrollTop = fy * (pane.scrollHeight - pane.clientHeight);
    });
    requestAnimationFrame(() => { syncing = false; });
  }
  function setZoom(level) {
    const zoom = $("#zoom");
    if (level === "close") { zoom.hidden = true; return; }
    $$(".pane", zoom).forEach((pane) => {
      const img = $("img", pane);
      pane.classList.toggle("fit", level === "fit");
      const apply = () => { img.style.width = level === "fit" ? "" : `${img.naturalWidth * level}px`; };
      img.complete ? apply() : img.addEventListener("load", apply, { once: true });
    });
  }
  document.addEventListener("click", (e) => {
    const img = e.target.closest && e.target.closest("img[data-zoomable]");
    if (img) { openZoom(img.closest(".card")); return; }
    const button = e.target.closest && e.target.closest("#zoom [data-zoom]");
    if (button) setZoom(button.dataset.zoom === "fit" || button.dataset.zoom === "close" ? button.dataset.zoom : Number(button.dataset.zoom));
  });

  // --- bulk: select every shown output ----------------------------------------------------------
  document.addEventListener("change", (e) => {
    if (e.target.id === "select-all") $$('.card .pick input').forEach((box) => { box.checked = e.target.checked; });
  });

  // --- new job: folder drop, kind switch --------------------------------------------------------
  const IMAGE = /\.(jpe?g|png|webp)$/i;
  const INTERNAL = /_INTERNAL_|_NONMODEL_/;
  function readEntry(entry) {
    if (entry.isFile) return new Promise((ok) => entry.file((f) => ok([f]), () => ok([])));
    const reader = entry.createReader();
    return new Promise((ok) => {
      const found = [];
      const more = () => reader.readEntries(async (batch) => {
        if (!batch.length) { ok(found); return; }
        for (const child of batch) found.push(...(await readEntry(child)));
        more();
      }, () => ok(found));
      more();
    });
  }
  function setup() {
    const form = $("#new-job");
    if (!form) return;
    const photos = $("#photos"), folder = $("#folder"), drop = $("#drop"), project = $("#project");
    const kind = () => ($('input[name="kind"]:checked', form) || {}).value;
    const showKind = () => { form.classList.toggle("swap", kind() !== "flat_2_model"); form.classList.toggle("flat", kind() === "flat_2_model"); };
    $$('input[name="kind"]', form).forEach((r) => r.addEventListener("change", showKind));
    showKind();
    function take(files, folderName) {
      const images = files.filter((f) => IMAGE.test(f.name)).sort((a, b) => a.name.localeCompare(b.name));
      const kept = kind() === "flat_2_model" ? images : images.filter((f) => !INTERNAL.test(f.name));
      const data = new DataTransfer();
      kept.forEach((f) => data.items.add(f));
      photos.files = data.files;
      $("#picked").replaceChildren(...kept.map((f) => Object.assign(document.createElement("li"), { textContent: f.name })));
      if (folderName && !project.value) project.value = folderName;
    }
    folder.addEventListener("change", () => {
      const files = [...folder.files];
      const first = files[0] && files[0].webkitRelativePath.split("/")[0];
      take(files, first);
    });
    photos.addEventListener("change", () => take([...photos.files], null));
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", async (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
      const files = [];
      for (const entry of entries) files.push(...(await readEntry(entry)));
      const dir = entries.find((entry) => entry.isDirectory);
      take(files.length ? files : [...e.dataTransfer.files], dir ? dir.name : null);
    });
  }
  // --- live updates: each server-sent event replaces one element by id -------------------------
  function live() {
    const holder = $("[data-live]");
    if (!holder || !window.EventSource) return;
    const source = new EventSource(holder.dataset.live);
    source.addEventListener("open", () => { document.body.dataset.live = "on"; });
    source.addEventListener("error", () => { document.body.dataset.live = "retrying"; });
    source.addEventListener("swap", (e) => {
      const update = JSON.parse(e.data);
      const template = document.createElement("template");
      template.innerHTML = update.html.trim();
      const fresh = template.content.firstElementChild;
      if (!fresh) return;
      const old = document.getElementById(update.id);
      if (old) {
        const note = old.querySelector("textarea");
        if (note && document.activeElement === note) return; // never overwrite a note being typed
        old.replaceWith(fresh);
      } else if (update.into && $(`#${update.into}[data-new-rows]`)) {
        $(`#${update.into}`).prepend(fresh);
      } else {
        return;
      }
      if (window.htmx) window.htmx.process(fresh);
      mark(false);
    });
  }

  document.addEventListener("DOMContentLoaded", () => { mark(false); setup(); live(); });
})();
