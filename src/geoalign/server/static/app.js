/* geoalign page: try a pair, review a job. Vanilla JS, no build step, no network access beyond this
   server. Uploaded files are parsed here in the browser: the server never reads the user's files.

   Sections: api (fetch + the server's error shape), rendering helpers shared by both views, tabs,
   Try view, file parsing (CSV / TSV / JSONL), Review view (state, persistence, keyboard labelling). */
"use strict";

(() => {
  const LABELS = ["exact_match", "partial_match", "not_match"];
  /** Number elements: a conflict there is hard evidence that two addresses are different places. */
  const HARD = new Set(["roadno", "subroadno", "houseno", "cellno", "floorno", "roomno"]);
  const COMPONENT_ORDER = [
    "country", "prov", "city", "district", "devzone", "town", "community", "road", "roadno", "subroad",
    "subroadno", "poi", "subpoi", "houseno", "cellno", "floorno", "roomno", "person", "assist", "redundant",
    "otherinfo",
  ];
  const KEY_STORAGE = "geoalign.apiKey";
  const TABLE_STORAGE = "geoalign.review.table.v1";
  const PROGRESS_STORAGE = "geoalign.review.progress.v1";
  const SET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
  const LANG_STORAGE = "geoalign.lang";
  const EXAMPLE = ["浙江省杭州市西湖区文三路369号3幢2单元501室", "杭州市文三路369号3栋2单元502室"];

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------------------------------- language

  const DICTS = window.GEOALIGN_I18N;
  const CODE_TEXT = window.GEOALIGN_I18N_ERRORS || {};
  /** zh-CN when the browser asks for Chinese before English (navigator.languages follows the
      browser's Accept-Language), unless the user chose with the switch. */
  function pickLanguage() {
    const chosen = localStorage.getItem(LANG_STORAGE);
    if (chosen && DICTS[chosen]) return chosen;
    for (const tag of navigator.languages || [navigator.language || "en"]) {
      const low = String(tag).toLowerCase();
      if (low.startsWith("zh")) return "zh-CN";
      if (low.startsWith("en")) return "en";
    }
    return "en";
  }
  let lang = pickLanguage();
  const t = (key, vars = {}) => {
    const text = (DICTS[lang] && DICTS[lang][key]) ?? DICTS.en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
  };
  const labelText = (name) => t(`label.${name}`);
  const compText = (name) => (`comp.${name}` in DICTS.en ? t(`comp.${name}`) : name);
  const statusText = (status) => (`status.${status}` in DICTS.en ? t(`status.${status}`) : status);
  const stageText = (stage) => (`stage.${stage}` in DICTS.en ? t(`stage.${stage}`) : stage);
  /** The page's fixed text, from the data-i18n* attributes (our own strings only, never user data). */
  function applyLanguage() {
    document.documentElement.lang = lang;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-html]")) node.innerHTML = t(node.dataset.i18nHtml);
    for (const node of document.querySelectorAll("[data-i18n-aria-label]")) node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
    document.getElementById("lang-switch").lang = lang === "en" ? "zh-CN" : "en";
  }
  applyLanguage();
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  };
  const pct = (p) => `${(100 * p).toFixed(1)}%`;
  const ms = (v) => (v < 10 ? v.toFixed(2) : v.toFixed(1));
  /** The server collapses whitespace in saved addresses (TSV holds no tabs or line breaks); so does the
      key under which the page remembers a pair's label. */
  const oneLine = (text) => String(text).split(/\s+/).filter(Boolean).join(" ");
  const pairKey = (a, b) => `${oneLine(a)}\u0000${oneLine(b)}`;

  // ------------------------------------------------------------------------------------------ api

  class ApiError extends Error {
    constructor(code, message, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
  }

  /** fetch + JSON; every failure becomes an ApiError carrying the server's {"error": {code, message}}. */
  async function api(path, { method = "GET", body, raw = false } = {}) {
    const headers = {};
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ApiError("network_error", t("err.no_answer", { detail: err.message }), 0);
    }
    if (!resp.ok) {
      let code = `http_${resp.status}`;
      let message = resp.statusText || t("err.failed");
      try {
        const data = await resp.json();
        if (data && data.error) ({ code, message } = data.error);
      } catch (_) { /* not JSON: keep the HTTP status */ }
      const retry = resp.headers.get("Retry-After");
      const error = new ApiError(code, message, resp.status);
      if (retry) error.retryAfter = Number(retry) || 1;
      throw error;
    }
    return raw ? resp : resp.json();
  }

  function showError(box, err) {
    const code = err.code || "error";
    box.replaceChildren(
      el("strong", { text: err.local ? t("err.local") : code === "network_error" ? t("err.network") : t("err.server") }),
      el("span", { class: "code", text: code }),
      document.createTextNode(` — ${describeError(err)}`),
    );
    if (code === "unauthorized") {
      box.append(el("p", { text: t("err.key") }));
      $("settings").open = true;
    }
    box.hidden = false;
  }
  /** The message in the page's language: a known code gets its sentence, then the server's own words. */
  function describeError(err) {
    const known = (CODE_TEXT[lang] || {})[err.code];
    const retry = err.retryAfter ? t("err.retry", { s: err.retryAfter }) : "";
    return known && !err.local ? `${known}（${err.message}）${retry}` : `${err.message}${retry}`;
  }
  const hideError = (box) => { box.hidden = true; box.replaceChildren(); };
  const announce = (region, text) => { region.textContent = ""; setTimeout(() => { region.textContent = text; }, 30); };

  // ----------------------------------------------------------------------------- shared rendering

  function renderProbs(box, probabilities, label) {
    box.replaceChildren();
    for (const name of LABELS) {
      const p = Number(probabilities[name] ?? 0);
      const best = name === label ? " best" : "";
      const fill = el("div", { class: `fill ${name}` });
      fill.style.width = `${(100 * p).toFixed(1)}%`; // CSSOM, not a style attribute: allowed by the page's CSP
      box.append(
        el("span", { class: `name${best}` }, labelText(name)),
        el("div", { class: "bar", "aria-hidden": "true" }, fill),
        el("span", { class: `pct${best}` }, pct(p)),
      );
    }
  }

  function componentName(name) {
    // the field's JSON name helps who reads the API's explanation; in the Chinese page it is left out
    const cell = el("th", { scope: "row" }, compText(name), lang === "en" ? " " : null, lang === "en" ? el("code", { text: name }) : null);
    if (HARD.has(name)) cell.append(el("span", { class: "hard-tag", text: t("hard.tag") }));
    return cell;
  }

  /** The explanation as a table: one row per component, status in words (never colour alone). */
  function renderComponents(box, explanation, parsed) {
    box.replaceChildren();
    const comps = explanation && Array.isArray(explanation.components) ? explanation.components : null;
    const table = el("table", { class: "components" });
    table.append(el("caption", { class: "sr-only", text: t("comp.caption") }));
    table.append(el("thead", {}, el("tr", {},
      el("th", { scope: "col", text: t("comp.col") }), el("th", { scope: "col", text: "A" }),
      el("th", { scope: "col", text: "B" }), el("th", { scope: "col", text: t("comp.status") }))));
    const body = el("tbody");
    if (comps) {
      for (const c of comps) {
        const row = el("tr", { class: `${HARD.has(c.name) ? "hard " : ""}row-${c.status}`, "data-name": c.name, "data-status": c.status });
        row.append(componentName(c.name), el("td", { class: "val", lang: "zh-Hans" }, c.a ?? "—"),
          el("td", { class: "val", lang: "zh-Hans" }, c.b ?? "—"),
          el("td", {}, el("span", { class: `st st-${c.status}`, text: statusText(c.status) })));
        body.append(row);
      }
      if (!comps.length) body.append(el("tr", {}, el("td", { colspan: "4", text: t("comp.none") })));
    } else if (parsed && parsed.every((p) => p && p.components)) {
      // A neural scorer explains nothing; the parser's reading is still worth showing, without statuses.
      box.append(el("p", { class: "hint", text: t("comp.neural") }));
      const byName = (p, name) => p.components.filter((c) => c.name === name).map((c) => c.value).join(" / ") || "—";
      for (const name of COMPONENT_ORDER) {
        if (!parsed.some((p) => p.components.some((c) => c.name === name))) continue;
        body.append(el("tr", { class: HARD.has(name) ? "hard" : "" }, componentName(name),
          el("td", { class: "val", lang: "zh-Hans" }, byName(parsed[0], name)),
          el("td", { class: "val", lang: "zh-Hans" }, byName(parsed[1], name)), el("td", { text: "—" })));
      }
    } else {
      box.append(el("p", { class: "hint", text: t("comp.nothing") }));
      return;
    }
    table.append(body);
    box.append(table);
  }

  /** Both raw addresses with each parsed component marked in place, coloured by its status. */
  function renderHighlight(box, parsed, explanation) {
    box.replaceChildren();
    const status = {};
    for (const c of (explanation && explanation.components) || []) if (!(c.name in status)) status[c.name] = c.status;
    ["A", "B"].forEach((side, i) => {
      const p = parsed && parsed[i];
      const line = el("p", { lang: "zh-Hans" }, el("span", { class: "side", lang: "en", text: side }));
      if (!p || !p.components) {
        const err = p && p.error ? `${p.error.code}: ${p.error.message}` : t("not_parsed");
        line.append(el("span", { class: "hint", text: `(${err})` }));
      } else {
        let at = 0;
        for (const c of p.components) {
          if (c.start > at) line.append(p.raw.slice(at, c.start));
          const st = status[c.name] || "none";
          const label = `${compText(c.name)}${st === "none" ? "" : `, ${statusText(st)}`}`;
          line.append(el("mark", { class: `st-${st}`, title: label, "data-name": c.name }, p.raw.slice(c.start, c.end)));
          at = c.end;
        }
        if (at < p.raw.length) line.append(p.raw.slice(at));
      }
      box.append(line);
    });
  }

  // ------------------------------------------------------------------------------------------ tabs

  const tabs = [...document.querySelectorAll('[role="tab"]')];
  function selectTab(tab, focus = false) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    history.replaceState(null, "", `#${tab.id.replace("tab-", "")}`);
  }
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", (ev) => {
      const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 };
      if (!(ev.key in moves)) return;
      ev.preventDefault();
      selectTab(tabs[(moves[ev.key] + tabs.length) % tabs.length], true);
    });
  });
  const reviewVisible = () => !$("panel-review").hidden;

  // ------------------------------------------------------------------------------------- settings

  const keyInput = $("api-key");
  keyInput.value = sessionStorage.getItem(KEY_STORAGE) || "";
  keyInput.addEventListener("input", () => {
    if (keyInput.value) sessionStorage.setItem(KEY_STORAGE, keyInput.value);
    else sessionStorage.removeItem(KEY_STORAGE);
  });
  let info = { auth_required: false, max_pairs: 100, max_chars: 512, labels_enabled: true };

  // ------------------------------------------------------------------------------------------- try

  const tryForm = $("try-form");
  let lastTry = null; // {m, parsed, roundTrip}: re-drawn when the language changes
  function clearVerdict() {
    lastTry = null;
    $("try-result").hidden = true;
    hideError($("try-error"));
    for (const id of ["addr-a", "addr-b"]) $(id).removeAttribute("aria-invalid");
  }
  /** Checked here, before any request: an empty field is the user's slip, not a server error. */
  function checkFilled(a, b) {
    const emptyA = !a.trim();
    const emptyB = !b.trim();
    if (!emptyA && !emptyB) return true;
    clearVerdict();
    if (emptyA) $("addr-a").setAttribute("aria-invalid", "true");
    if (emptyB) $("addr-b").setAttribute("aria-invalid", "true");
    const sides = t(emptyA && emptyB ? "err.empty_side.both" : emptyA ? "err.empty_side.a" : "err.empty_side.b");
    const message = t("err.empty_fields", { sides });
    showError($("try-error"), { local: true, code: "empty_fields", message });
    announce($("try-status"), message);
    $(emptyA ? "addr-a" : "addr-b").focus();
    return false;
  }
  async function compare(ev) {
    if (ev) ev.preventDefault();
    const a = $("addr-a").value;
    const b = $("addr-b").value;
    const button = $("compare");
    if (!checkFilled(a, b)) return;
    clearVerdict();
    button.disabled = true;
    announce($("try-status"), t("try.comparing"));
    const started = performance.now();
    try {
      const parsing = api("/v1/parse", { method: "POST", body: { addresses: [a, b] } }).catch((err) => err);
      const answer = await api("/v1/match", { method: "POST", body: { pairs: [{ a, b }] } });
      const roundTrip = performance.now() - started;
      const result = answer.results[0];
      if (result.error) {
        $("try-result").hidden = true;
        showError($("try-error"), result.error);
        announce($("try-status"), t("try.not_compared", { message: result.error.message }));
        return;
      }
      const parsed = await parsing;
      showMatch(result, parsed instanceof Error ? null : parsed.results, roundTrip);
    } catch (err) {
      $("try-result").hidden = true;
      showError($("try-error"), err);
      announce($("try-status"), t("try.error", { message: err.message }));
    } finally {
      button.disabled = false;
    }
  }

  function showMatch(m, parsed, roundTrip, quiet = false) {
    lastTry = { m, parsed, roundTrip };
    const top = m.probabilities[m.label];
    $("verdict").replaceChildren(el("span", { class: `badge ${m.label}`, text: labelText(m.label) }), ` ${pct(top)}`);
    renderProbs($("probs"), m.probabilities, m.label);
    const kv = $("answered");
    kv.replaceChildren();
    for (const [k, v] of [["scorer", m.scorer], ["model", m.model], ["round_trip", t("round_trip", { ms: ms(roundTrip) })]]) {
      kv.append(el("dt", { text: t(`kv.${k}`) }), el("dd", { text: v }));
    }
    const tbody = $("timings").querySelector("tbody");
    tbody.replaceChildren();
    const stages = Object.entries(m.timings_ms || {});
    for (const [stage, value] of stages) {
      tbody.append(el("tr", {}, el("td", { text: stageText(stage) }), el("td", { class: "num", text: ms(value) })));
    }
    if (stages.length) {
      const total = stages.reduce((s, [, v]) => s + v, 0);
      tbody.append(el("tr", {}, el("th", { scope: "row", text: t("total") }), el("td", { class: "num", text: ms(total) })));
    } else {
      tbody.append(el("tr", {}, el("td", { colspan: "2", text: t("no_timings") })));
    }
    renderHighlight($("highlight"), parsed, m.explanation);
    renderComponents($("components"), m.explanation, parsed);
    $("try-result").hidden = false;
    const conflicts = ((m.explanation && m.explanation.components) || []).filter((c) => c.status === "conflict");
    const why = conflicts.length
      ? t("try.conflicts", { list: conflicts.map((c) => t("try.vs", { name: compText(c.name), a: c.a, b: c.b })).join("; ") })
      : "";
    if (!quiet) announce($("try-status"), t("try.result", { label: labelText(m.label), pct: pct(top), scorer: m.scorer, why }));
  }

  tryForm.addEventListener("submit", compare);
  tryForm.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) compare(ev);
  });
  $("swap").addEventListener("click", () => {
    const a = $("addr-a");
    const b = $("addr-b");
    [a.value, b.value] = [b.value, a.value];
    clearVerdict(); // the verdict was for A and B the other way round (exact_match is one-directional)
  });
  $("example").addEventListener("click", () => {
    [$("addr-a").value, $("addr-b").value] = EXAMPLE;
    clearVerdict();
    $("addr-a").focus();
  });

  // ------------------------------------------------------------------------------- file parsing

  /** RFC 4180 CSV: quoted cells may hold commas, quotes ("") and line breaks. */
  function parseCsv(text) {
    const rows = [];
    let row = [];
    let cell = "";
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"') {
          if (text[i + 1] === '"') { cell += '"'; i++; } else quoted = false;
        } else cell += ch;
      } else if (ch === '"' && cell === "") quoted = true;
      else if (ch === ",") { row.push(cell); cell = ""; }
      else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") i++;
        row.push(cell); rows.push(row); row = []; cell = "";
      } else cell += ch;
    }
    if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
    return rows.filter((r) => !(r.length === 1 && r[0] === ""));
  }

  /** TSV as geoalign writes and reads it: one record per line, no quoting. */
  const parseTsv = (text) => text.split(/\r?\n/).filter((l) => l.trim() !== "").map((l) => l.split("\t"));

  /** JSONL: one object (or array) per line; Match JSON's nested probabilities become p_* columns. */
  function parseJsonl(text) {
    const records = [];
    const columns = [];
    const seen = new Set();
    const bad = [];
    text.split(/\r?\n/).forEach((line, n) => {
      if (!line.trim()) return;
      let obj;
      try { obj = JSON.parse(line); } catch (err) { bad.push({ key: "bad.json", line: n + 1 }); return; }
      if (Array.isArray(obj)) obj = Object.fromEntries(obj.map((v, i) => [i < 2 ? "ab"[i] : `col${i + 1}`, v]));
      if (obj === null || typeof obj !== "object") { bad.push({ key: "bad.object", line: n + 1 }); return; }
      const flat = {};
      for (const [k, v] of Object.entries(obj)) {
        if (k === "probabilities" && v && typeof v === "object") {
          for (const name of LABELS) if (name in v) flat[`p_${name}`] = v[name];
        } else if (k === "error" && v && typeof v === "object") {
          flat.error = `${v.code}: ${v.message}`;
        } else flat[k] = v !== null && typeof v === "object" ? JSON.stringify(v) : v;
      }
      for (const k of Object.keys(flat)) if (!seen.has(k)) { seen.add(k); columns.push(k); }
      records.push(flat);
    });
    if (!records.length) throw new Error(t("err.no_json"));
    return { columns, rows: records.map((r) => columns.map((c) => (r[c] ?? null))), bad };
  }

  /** The same rule as geoalign.io.tables.looks_like_header: every first-row cell an identifier-like name. */
  const looksLikeHeader = (cells) => cells.length > 0 && cells.every((c) => /^[A-Za-z_][\p{L}\p{N}_ .-]{0,63}$/u.test(String(c).trim()));

  function parseFile(name, text) {
    const lower = name.toLowerCase();
    if (/\.(jsonl|ndjson|json)$/.test(lower)) return parseJsonl(text);
    let cells;
    if (/\.csv$/.test(lower)) cells = parseCsv(text);
    else if (/\.(tsv|tab|txt)$/.test(lower)) cells = parseTsv(text);
    else throw new Error(t("err.format", { name }));
    if (!cells.length) throw new Error(t("err.file_empty"));
    const header = looksLikeHeader(cells[0]);
    const width = Math.max(...cells.map((r) => r.length));
    const columns = header ? cells[0].map((c) => String(c).trim()) : Array.from({ length: width }, (_, i) => (i < 2 ? "ab"[i] : `col${i + 1}`));
    return { columns, rows: header ? cells.slice(1) : cells, bad: [] };
  }

  const A_NAMES = ["a", "query", "address_a", "addr_a", "left_address", "left_addr", "text_a", "sent1", "source", "left"];
  const B_NAMES = ["b", "candidate", "address_b", "addr_b", "right_address", "right_addr", "text_b", "sent2", "target", "right"];
  /** Row ids travel with the labels (geoalign link writes left_id / right_id), so a label can be traced
      back to the records it judged. */
  const A_ID_NAMES = ["a_id", "id_a", "left_id", "query_id", "id1"];
  const B_ID_NAMES = ["b_id", "id_b", "right_id", "candidate_id", "record_id", "id2"];
  const idColumn = (names) => { const lower = table.columns.map((c) => c.toLowerCase()); return names.map((n) => lower.indexOf(n)).find((i) => i >= 0) ?? -1; };
  function guessColumn(columns, names, fallback, avoid) {
    const lower = columns.map((c) => c.toLowerCase());
    for (const n of names) { const i = lower.indexOf(n); if (i >= 0 && i !== avoid) return i; }
    const addr = lower.map((c, i) => (/addr|address|地址/.test(c) && i !== avoid ? i : -1)).filter((i) => i >= 0);
    if (addr.length) return addr[0];
    return fallback === avoid ? (fallback + 1) % columns.length : fallback;
  }

  // ---------------------------------------------------------------------------------------- review

  /** Everything about the review that must survive a reload (localStorage). The table itself is stored
      separately: it may be too big for the browser's quota, and labels must be kept regardless. */
  let table = null; // {name, columns, rows: [[cells]], scores: {rowIndex: {p, label} | {error}}}
  let progress = { set: "labels", threshold: 0.8, filter: "uncertain", pos: 0, colA: 0, colB: 1, labels: {}, pending: [] };
  let view = [];
  let tableStored = true;
  const whyCache = new Map();

  function saveProgress() {
    try { localStorage.setItem(PROGRESS_STORAGE, JSON.stringify(progress)); } catch (err) {
      showError($("review-error"), { local: true, code: "browser_storage_full", message: t("err.storage") });
    }
  }
  function saveTable() {
    try {
      localStorage.setItem(TABLE_STORAGE, JSON.stringify(table));
      tableStored = true;
    } catch (err) {
      localStorage.removeItem(TABLE_STORAGE);
      tableStored = false;
    }
  }

  const cellText = (v) => (v === null || v === undefined ? "" : String(v));
  function column(name) { return table.columns.indexOf(name); }

  /** Pair, probabilities and predicted label of a row, from the file or from the server's scores. */
  function rowInfo(i) {
    const r = table.rows[i];
    const a = cellText(r[progress.colA]);
    const b = cellText(r[progress.colB]);
    const ia = idColumn(A_ID_NAMES);
    const ib = idColumn(B_ID_NAMES);
    const ids = { aId: ia >= 0 ? cellText(r[ia]) : "", bId: ib >= 0 ? cellText(r[ib]) : "" };
    const scored = table.scores[i];
    if (scored) return { a, b, ...ids, ...scored };
    const pCols = LABELS.map((n) => column(`p_${n}`));
    const errCol = column("error");
    const error = errCol >= 0 && cellText(r[errCol]).trim() ? cellText(r[errCol]) : null;
    if (pCols.every((c) => c >= 0)) {
      const vals = pCols.map((c) => r[c]);
      if (vals.every((v) => v !== null && v !== "" && Number.isFinite(Number(v)))) {
        const p = Object.fromEntries(LABELS.map((n, k) => [n, Number(vals[k])]));
        const labelCol = column("label");
        const label = labelCol >= 0 && LABELS.includes(cellText(r[labelCol])) ? cellText(r[labelCol]) : LABELS.reduce((x, y) => (p[y] > p[x] ? y : x));
        return { a, b, ...ids, p, label, error };
      }
    }
    return { a, b, ...ids, p: null, label: null, error };
  }
  const hasProbabilities = () => LABELS.every((n) => column(`p_${n}`) >= 0);

  function computeView() {
    const t = progress.threshold;
    view = [];
    for (let i = 0; i < table.rows.length; i++) {
      const info = rowInfo(i);
      if (!info.a.trim() || !info.b.trim()) continue;
      if (progress.filter === "uncertain" && !(info.p && Math.max(...Object.values(info.p)) < t)) continue;
      if (progress.filter === "unlabelled" && progress.labels[pairKey(info.a, info.b)]) continue;
      view.push(i);
    }
    progress.pos = Math.max(0, Math.min(progress.pos, view.length - 1));
  }

  /** Every row that cannot be reviewed, with its reason: unreadable lines, rows with an error from
      scoring, rows with an empty address. All are counted, and all are listed (never silently dropped). */
  function badRows() {
    const out = (table.bad || []).map((b) => t(b.key, { line: b.line }));
    for (let i = 0; i < table.rows.length; i++) {
      const info = rowInfo(i);
      const row = i + 1;
      if (info.error) out.push(t("bad.error", { row, error: info.error }));
      else if (!info.a.trim() || !info.b.trim()) out.push(t("bad.empty", { row, side: !info.a.trim() ? "A" : "B" }));
    }
    return out;
  }

  function renderSummary() {
    let scored = 0, errors = 0, uncertain = 0, empty = 0;
    for (let i = 0; i < table.rows.length; i++) {
      const info = rowInfo(i);
      if (info.p) scored++;
      if (info.error) errors++;
      else if (!info.a.trim() || !info.b.trim()) empty++;
      if (info.p && Math.max(...Object.values(info.p)) < progress.threshold) uncertain++;
    }
    const left = (table.bad || []).length + empty;
    const parts = [t("sum.pairs", { name: table.name, n: table.rows.length }), t("sum.scored", { n: scored }), t("sum.uncertain", { n: uncertain, t: progress.threshold })];
    if (errors) parts.push(errors === 1 ? t("sum.errors.one") : t("sum.errors", { n: errors }));
    if (left) parts.push(left === 1 ? t("sum.bad.one") : t("sum.bad", { n: left }));
    if (!tableStored) parts.push(t("sum.too_large"));
    $("file-summary").textContent = `${parts.join(" · ")}${lang === "en" ? "." : "。"}`;
    const bad = badRows();
    $("bad-list").replaceChildren(...bad.map((text) => el("li", { text })));
    $("bad-rows").hidden = bad.length === 0;
  }

  function renderColumns() {
    for (const [id, key] of [["col-a", "colA"], ["col-b", "colB"]]) {
      const select = $(id);
      select.replaceChildren(...table.columns.map((c, i) => el("option", { value: String(i), text: c })));
      select.value = String(progress[key]);
    }
    $("columns").hidden = false;
  }

  function renderProgress() {
    const labelled = view.filter((i) => { const r = rowInfo(i); return progress.labels[pairKey(r.a, r.b)]; }).length;
    const total = Object.keys(progress.labels).length;
    $("progress").max = Math.max(view.length, 1);
    $("progress").value = labelled;
    const waiting = progress.pending.length ? t("progress.waiting", { n: progress.pending.length }) : "";
    $("progress-text").textContent = t("progress", { labelled, shown: view.length, total, set: progress.set, waiting });
  }

  function renderCard() {
    renderProgress();
    const empty = view.length === 0;
    $("card").hidden = empty;
    $("review-empty").hidden = !empty;
    if (empty) {
      $("review-empty").textContent = progress.filter === "uncertain"
        ? t("empty.uncertain", { t: progress.threshold })
        : t("empty.filter");
      return;
    }
    const i = view[progress.pos];
    const info = rowInfo(i);
    $("card-title").textContent = t("card.title", { pos: progress.pos + 1, n: view.length, row: i + 1 });
    $("card-a").textContent = info.a;
    $("card-b").textContent = info.b;
    $("card-ids").hidden = !(info.aId || info.bId);
    $("card-ids").textContent = t("card.ids", { a: info.aId || "—", b: info.bId || "—" });
    if (info.p) {
      $("card-pred").textContent = t("card.pred", { label: labelText(info.label), pct: pct(info.p[info.label]) });
      renderProbs($("card-probs"), info.p, info.label);
    } else {
      $("card-pred").textContent = info.error ? t("card.not_scored_why", { error: info.error }) : t("card.not_scored");
      $("card-probs").replaceChildren();
    }
    const current = progress.labels[pairKey(info.a, info.b)];
    $("card-label").textContent = current ? t("card.yours", { label: labelText(current) }) : t("card.unlabelled");
    for (const btn of document.querySelectorAll(".label-buttons button")) {
      if (btn.dataset.label !== "skip") btn.setAttribute("aria-pressed", String(btn.dataset.label === current));
    }
    $("prev").disabled = progress.pos === 0;
    $("next").disabled = progress.pos >= view.length - 1;
    if ($("card-why").open) loadWhy(info);
  }

  async function loadWhy(info) {
    const box = $("card-components");
    const key = pairKey(info.a, info.b);
    if (!whyCache.has(key)) {
      box.replaceChildren(el("p", { class: "hint", text: t("asking") }));
      try {
        const answer = await api("/v1/match", { method: "POST", body: { pairs: [{ a: info.a, b: info.b }] } });
        whyCache.set(key, answer.results[0]);
      } catch (err) {
        box.replaceChildren();
        showError($("review-error"), err);
        return;
      }
    }
    const result = whyCache.get(key);
    if (result.error) box.replaceChildren(el("p", { text: `${result.error.code}: ${result.error.message}` }));
    else renderComponents(box, result.explanation, null);
  }

  /** What a screen reader hears after moving: the new pair, so nobody has to hunt for it. */
  function describeCurrent() {
    if (!view.length) return t("no_pairs");
    const info = rowInfo(view[progress.pos]);
    const current = progress.labels[pairKey(info.a, info.b)];
    const labelled = current ? t("describe.labelled", { label: labelText(current) }) : "";
    return t("describe", { pos: progress.pos + 1, n: view.length, a: info.a, b: info.b, labelled });
  }

  function move(delta) {
    if (!view.length) return;
    const before = progress.pos;
    progress.pos = Math.max(0, Math.min(view.length - 1, progress.pos + delta));
    saveProgress();
    renderCard();
    announce($("review-status"), progress.pos === before ? t(delta > 0 ? "move.last" : "move.first") : describeCurrent());
  }

  /** Exponential-free retry for a busy server: 429 (queue full) and 503 (warming up) say when to retry. */
  async function patiently(call) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (!(err.status === 429 || err.status === 503) || attempt >= 5) throw err;
        const wait = err.retryAfter || 1;
        await new Promise((resolve) => setTimeout(resolve, 1000 * wait));
      }
    }
  }

  /** Sends every label not yet confirmed by the server, oldest first; they stay queued on failure. */
  let flushing = null;
  async function flushPending() {
    if (flushing) return flushing;
    flushing = (async () => {
      while (progress.pending.length) {
        // a label belongs to the set that was chosen when it was given, even if the set changed since
        const set = progress.pending[0].set;
        let n = 0;
        while (n < progress.pending.length && n < 500 && progress.pending[n].set === set) n++;
        const batch = progress.pending.slice(0, n).map(({ a, b, label, aId, bId }) => ({ a, b, label, ...(aId ? { a_id: aId } : {}), ...(bId ? { b_id: bId } : {}) }));
        try {
          const saved = await api("/v1/labels", { method: "POST", body: { set, labels: batch } });
          progress.pending.splice(0, n);
          saveProgress();
          hideError($("review-error"));
          const [before, after] = t("saved.for").split("{cmd}");
          $("save-state").replaceChildren(
            saved.total === 1 ? t("saved.one", { file: saved.file }) : t("saved", { n: saved.total, file: saved.file }),
            before, el("code", { text: "geoalign train --pairs" }), after,
          );
        } catch (err) {
          showError($("review-error"), err);
          $("save-state").textContent = t("not_saved");
          announce($("review-status"), t("not_saved.announce", { message: err.message }));
          break;
        }
      }
    })();
    try { await flushing; } finally { flushing = null; renderProgress(); }
  }

  function label(name) {
    if (!view.length) return;
    if (name === "skip") { move(1); return; }
    const info = rowInfo(view[progress.pos]);
    progress.labels[pairKey(info.a, info.b)] = name;
    progress.pending.push({ set: progress.set, a: info.a, b: info.b, label: name, aId: info.aId, bId: info.bId });
    const done = t("labelled", { pos: progress.pos + 1, label: labelText(name) });
    const last = progress.pos >= view.length - 1;
    if (!last) progress.pos++;
    saveProgress();
    renderCard();
    announce($("review-status"), last ? t("labelled.last", { done }) : `${done} ${describeCurrent()}`);
    flushPending();
  }

  /** Labels the server already holds for this set count as done (another browser, an earlier visit). */
  async function syncFromServer() {
    if (!info.labels_enabled) return;
    try {
      // if_missing=empty: a set with no labels yet is an empty file, not a 404 in the console
      const resp = await api(`/v1/labels?set=${encodeURIComponent(progress.set)}&if_missing=empty`, { raw: true });
      const rows = parseTsv(await resp.text()).slice(1);
      const waiting = new Set(progress.pending.filter((p) => p.set === progress.set).map((p) => pairKey(p.a, p.b)));
      for (const [a, b, l] of rows) if (LABELS.includes(l) && !waiting.has(pairKey(a, b))) progress.labels[pairKey(a, b)] = l;
      saveProgress();
    } catch (err) {
      if (err.status !== 404) showError($("review-error"), err);
    }
  }

  /** A file of bare pairs gets its probabilities from this server, in requests of at most max_pairs. */
  async function scoreMissing() {
    const todo = [];
    for (let i = 0; i < table.rows.length; i++) {
      const r = rowInfo(i);
      if (!r.p && !r.error && r.a.trim() && r.b.trim()) todo.push(i);
    }
    if (!todo.length) return;
    const size = Math.max(1, Math.min(info.max_pairs, 200));
    for (let k = 0; k < todo.length; k += size) {
      const chunk = todo.slice(k, k + size);
      announce($("review-status"), t("scoring.announce", { from: k + 1, to: k + chunk.length, n: todo.length }));
      $("file-summary").textContent = t("scoring.summary", { n: todo.length, done: k });
      const pairs = chunk.map((i) => { const r = rowInfo(i); return { a: r.a, b: r.b }; });
      const answer = await patiently(() => api("/v1/match", { method: "POST", body: { pairs } }));
      answer.results.forEach((res, j) => {
        table.scores[chunk[j]] = res.error ? { p: null, label: null, error: `${res.error.code}: ${res.error.message}` } : { p: res.probabilities, label: res.label, error: null };
      });
    }
    saveTable();
    announce($("review-status"), t("scored", { n: todo.length }));
  }

  async function startReview({ restored }) {
    $("review-work").hidden = false;
    renderColumns();
    $("threshold").value = String(progress.threshold);
    $("filter").value = progress.filter;
    $("set-name").value = progress.set;
    try {
      await scoreMissing();
    } catch (err) {
      showError($("review-error"), err);
    }
    await syncFromServer();
    computeView();
    renderSummary();
    renderCard();
    if (progress.pending.length) flushPending();
    if (restored) announce($("review-status"), t("restored", { name: table.name, pos: progress.pos + 1 }));
  }

  function defaultSetName(fileName) {
    const stem = fileName.replace(/\.[^.]+$/, "").replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^[^A-Za-z0-9]+/, "").slice(0, 57);
    return stem ? `${stem}-labels` : "labels";
  }

  $("file").addEventListener("change", async () => {
    const file = $("file").files[0];
    if (!file) return;
    hideError($("review-error"));
    let parsed;
    try {
      parsed = parseFile(file.name, await file.text());
    } catch (err) {
      showError($("review-error"), { local: true, code: "unreadable_file", message: `${file.name}: ${err.message}` });
      return;
    }
    table = { name: file.name, columns: parsed.columns, rows: parsed.rows, scores: {}, bad: parsed.bad };
    const colA = guessColumn(parsed.columns, A_NAMES, 0, -1);
    const colB = guessColumn(parsed.columns, B_NAMES, 1, colA);
    progress = { ...progress, set: defaultSetName(file.name), labels: {}, pos: 0, colA, colB, filter: hasProbabilities() ? "uncertain" : progress.filter };
    whyCache.clear();
    saveTable();
    saveProgress();
    await startReview({ restored: false });
    $("card").focus();
  });

  for (const [id, key] of [["col-a", "colA"], ["col-b", "colB"]]) {
    $(id).addEventListener("change", async () => {
      progress[key] = Number($(id).value);
      table.scores = {};
      saveProgress();
      await startReview({ restored: false });
    });
  }
  $("filter").addEventListener("change", () => { progress.filter = $("filter").value; progress.pos = 0; computeView(); saveProgress(); renderCard(); });
  $("threshold").addEventListener("change", () => {
    const t = Number($("threshold").value);
    if (!(t > 0 && t <= 1)) {
      showError($("review-error"), { local: true, code: "invalid_threshold", message: t("err.threshold") });
      return;
    }
    hideError($("review-error"));
    progress.threshold = t;
    progress.pos = 0;
    computeView(); renderSummary(); saveProgress(); renderCard();
  });
  $("set-name").addEventListener("change", async () => {
    const name = $("set-name").value.trim();
    if (!SET_NAME.test(name)) {
      showError($("review-error"), { local: true, code: "invalid_set", message: t("err.set") });
      return;
    }
    hideError($("review-error"));
    progress.set = name;
    progress.labels = {};
    await syncFromServer();
    saveProgress();
    renderCard();
  });
  $("download").addEventListener("click", async () => {
    try {
      const resp = await api(`/v1/labels?set=${encodeURIComponent(progress.set)}`, { raw: true });
      const url = URL.createObjectURL(await resp.blob());
      const link = el("a", { href: url, download: `${progress.set}.tsv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      showError($("review-error"), err);
    }
  });
  for (const btn of document.querySelectorAll(".label-buttons button")) btn.addEventListener("click", () => label(btn.dataset.label));
  $("prev").addEventListener("click", () => move(-1));
  $("next").addEventListener("click", () => move(1));
  $("card-why").addEventListener("toggle", () => { if ($("card-why").open && view.length) loadWhy(rowInfo(view[progress.pos])); });

  /** Review keys work anywhere in the Review view except while typing in a field; on a focused button,
      Space and Enter keep their usual meaning (press that button). */
  document.addEventListener("keydown", (ev) => {
    if (!reviewVisible() || !table || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t.closest && t.closest("input, textarea, select, [role='tablist'], summary")) return;
    if (t.tagName === "BUTTON" && (ev.key === " " || ev.key === "Enter")) return;
    const actions = {
      1: () => label("exact_match"), 2: () => label("partial_match"), 3: () => label("not_match"),
      " ": () => label("skip"), ArrowRight: () => move(1), ArrowDown: () => move(1),
      ArrowLeft: () => move(-1), ArrowUp: () => move(-1),
    };
    const action = actions[ev.key];
    if (!action) return;
    ev.preventDefault();
    action();
  });

  // ----------------------------------------------------------------------------------------- start

  $("lang-switch").addEventListener("click", () => {
    lang = lang === "en" ? "zh-CN" : "en";
    localStorage.setItem(LANG_STORAGE, lang);
    applyLanguage();
    if (lastTry) showMatch(lastTry.m, lastTry.parsed, lastTry.roundTrip, true);
    if (table && !$("review-work").hidden) { renderSummary(); renderCard(); }
  });

  async function init() {
    const wanted = tabs.find((t) => `#${t.id.replace("tab-", "")}` === location.hash);
    selectTab(wanted || tabs[0]);
    try {
      info = await api("/v1/web/info");
      if (info.auth_required && !keyInput.value) $("settings").open = true;
      if (!info.labels_enabled) {
        showError($("review-error"), { local: true, code: "labels_disabled", message: t("err.labels_disabled") });
      }
    } catch (err) {
      showError($("global-error"), err);
    }
    try {
      progress = { ...progress, ...JSON.parse(localStorage.getItem(PROGRESS_STORAGE) || "{}") };
      table = JSON.parse(localStorage.getItem(TABLE_STORAGE) || "null");
    } catch (err) {
      table = null;
    }
    if (table) await startReview({ restored: true });
  }
  init();
})();
