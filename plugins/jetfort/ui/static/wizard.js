// jetfort rules wizard: builds the rules JSON from the form (each input names its rules path in
// data-path), has the server check it as you type (TenantRules, errors by path), fills choices from
// live reads of the shop and Fortnox, keeps the draft in localStorage across the Fortnox consent,
// and saves the JSON as the tenant's Variable.
(function () {
  "use strict";
  const {post, say} = window.jetfort;
  const form = document.getElementById("wizard");
  const tenantInput = document.getElementById("tenant");
  const STORE = "jetfort-wizard";
  let shopData = null, fortnoxData = null, timer = null;

  function tokens(path) {
    const out = [], re = /([^.[\]]+)|\[(\d+)\]/g;
    let m;
    while ((m = re.exec(path))) { out.push(m[2] !== undefined ? Number(m[2]) : m[1]); }
    return out;
  }

  function setPath(obj, path, value) {
    const t = tokens(path);
    let here = obj;
    for (let i = 0; i < t.length - 1; i++) {
      if (here[t[i]] === undefined) { here[t[i]] = typeof t[i + 1] === "number" ? [] : {}; }
      here = here[t[i]];
    }
    here[t[t.length - 1]] = value;
  }

  function valueOf(el) {
    if (el.dataset.type === "bool") { return el.checked; }
    const raw = (el.value || "").trim();
    if (raw === "") { return undefined; }
    if (el.dataset.type === "int") { const n = Number(raw); return Number.isInteger(n) ? n : raw; }
    return raw;
  }

  const backend = () => document.getElementById("backend").value;

  function numberChannels() {
    let n = 0;
    for (const row of form.querySelectorAll("[data-channel-row]")) {
      const included = row.querySelector("[data-include]").checked;
      for (const el of row.querySelectorAll("[data-field]")) {
        el.disabled = !included;
        el.dataset.path = included ? `shops[0].channels[${n}].${el.dataset.field}` : "";
      }
      if (included) { n += 1; }
    }
  }

  function build() {
    numberChannels();
    document.getElementById("shop-conn").dataset.path = `shops[0].${backend()}_conn_id`;
    const rules = {};
    for (const el of form.querySelectorAll("[data-path]")) {
      if (el.disabled || !el.dataset.path) { continue; }
      const value = valueOf(el);
      if (value === undefined || (value === false && el.dataset.path !== "status_map.enabled")) { continue; }
      setPath(rules, el.dataset.path, value);
    }
    const triggers = [...form.querySelectorAll("[data-trigger]:checked")].map((c) => Number(c.value));
    if (triggers.length) { setPath(rules, "orders.trigger_statuses", triggers); }
    return rules;
  }

  function option(select, value, text) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    select.appendChild(o);
  }

  function renderShop() {
    if (!shopData) { return; }
    const idField = backend() === "norce" ? "norce_application_id" : "jetshop_channel_id";
    const listField = backend() === "norce" ? "norce_price_list" : "price_list_guid";
    const box = document.getElementById("channels");
    box.replaceChildren();
    const used = new Set();
    shopData.channels.forEach((c) => {
      const row = document.createElement("div");
      row.dataset.channelRow = String(c.channel_id);
      let key = (c.culture.split("-")[1] || String(c.channel_id)).toLowerCase();
      if (used.has(key)) { key = `${key}${c.channel_id}`; }  // a key per channel: two channels may share a country
      used.add(key);
      row.innerHTML = `<label><input type="checkbox" data-include checked> channel</label>
        <label>key <input data-field="key"></label>
        <input type="hidden" data-field="${idField}" data-type="int">
        <label>culture <input data-field="culture" size="6"></label>
        <label>currency <input data-field="currency" size="4"></label>
        <label>Fortnox price list <input data-field="fortnox_price_list" list="fortnox-price-lists" size="6"></label>
        <label>shop price list <input data-field="${listField}" size="38"></label>`;
      row.querySelector('[data-field="key"]').value = key;
      row.querySelector(`[data-field="${idField}"]`).value = String(c.channel_id);
      row.querySelector('[data-field="culture"]').value = c.culture;
      row.querySelector('[data-field="currency"]').value = c.currency;
      row.querySelector('[data-field="fortnox_price_list"]').value = "A";
      row.querySelector(`[data-field="${listField}"]`).value = c.price_list || "";
      const title = document.createElement("b");
      title.textContent = c.name + " ";
      row.prepend(title);
      box.appendChild(row);
    });
    const triggers = document.getElementById("trigger-statuses");
    triggers.replaceChildren();
    const transferred = document.getElementById("transferred");
    transferred.replaceChildren();
    option(transferred, "", "—");
    const mapped = form.querySelectorAll("[data-statuses]");
    mapped.forEach((s) => { s.replaceChildren(); option(s, "", "— (not pushed)"); });
    shopData.statuses.forEach((s) => {
      const label = document.createElement("label");
      label.innerHTML = `<input type="checkbox" data-trigger value="${Number(s.id)}"> `;
      label.append(`${s.id} ${s.name}`);
      triggers.appendChild(label);
      option(transferred, String(s.id), `${s.id} ${s.name}`);
      mapped.forEach((m) => option(m, String(s.id), `${s.id} ${s.name}`));
    });
  }

  function renderFortnox() {
    if (!fortnoxData) { return; }
    let list = document.getElementById("fortnox-price-lists");
    if (!list) { list = document.createElement("datalist"); list.id = "fortnox-price-lists"; form.appendChild(list); }
    list.replaceChildren();
    fortnoxData.price_lists.forEach((p) => option(list, p.code, p.description || p.code));
    form.querySelectorAll("[data-accounts]").forEach((s) => {
      s.replaceChildren();
      option(s, "", "— (default)");
      fortnoxData.accounts.forEach((a) => option(s, String(a.number), `${a.number} ${a.description || ""}`));
    });
  }

  // The draft's key of a field: stable across renders (a channel row by its shop channel id, not its index).
  const STORED = "[data-path]:not([data-field]), [data-trigger], [data-channel-row] input";
  function storeKey(el) {
    const row = el.closest("[data-channel-row]");
    if (el.dataset.trigger !== undefined) { return `trigger:${el.value}`; }
    if (row) { return `row:${row.dataset.channelRow}:${el.dataset.field || "include"}`; }
    return el.dataset.path || el.id;
  }

  function snapshot() {
    const values = {};
    for (const el of form.querySelectorAll(STORED)) {
      const where = storeKey(el);
      values[where] = el.type === "checkbox" ? el.checked : el.value;
    }
    return {tenant: tenantInput.value, values: values, shop: shopData, fortnox: fortnoxData};
  }

  function restore() {
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(STORE) || "null"); } catch (e) { saved = null; }
    if (!saved || (tenantInput.value && saved.tenant !== tenantInput.value)) { return; }
    tenantInput.value = saved.tenant;
    shopData = saved.shop;
    fortnoxData = saved.fortnox;
    const backendValue = saved.values["shops[0].backend"];
    if (backendValue) { document.getElementById("backend").value = backendValue; }
    renderShop();
    renderFortnox();
    for (const el of form.querySelectorAll(STORED)) {
      const where = storeKey(el);
      if (!(where in saved.values)) { continue; }
      if (el.type === "checkbox") { el.checked = saved.values[where]; } else { el.value = saved.values[where]; }
    }
    const conn = saved.values["shop-conn"] || saved.values[`shops[0].${backend()}_conn_id`];
    if (conn) { document.getElementById("shop-conn").value = conn; }
  }

  function showErrors(errors) {
    form.querySelectorAll("small.err[data-generated]").forEach((e) => e.remove());
    form.querySelectorAll("small.err[data-error-for]").forEach((e) => { e.textContent = ""; });
    const list = document.getElementById("errors");
    list.replaceChildren();
    errors.forEach((e) => {
      const item = document.createElement("li");
      item.dataset.path = e.path;
      item.textContent = `${e.path}: ${e.message}`;
      list.appendChild(item);
      const fixed = form.querySelector(`small.err[data-error-for="${CSS.escape(e.path)}"]`);
      const field = form.querySelector(`[data-path="${CSS.escape(e.path)}"]`);
      if (fixed) { fixed.textContent = e.message; return; }
      if (field) {
        const note = document.createElement("small");
        note.className = "err";
        note.dataset.generated = "1";
        note.dataset.errorFor = e.path;
        note.textContent = e.message;
        field.closest("label") ? field.closest("label").after(note) : field.after(note);
      }
    });
    if (!errors.length) {
      const item = document.createElement("li");
      item.id = "no-errors";
      item.className = "good";
      item.textContent = "none: these rules validate";
      list.appendChild(item);
    }
  }

  async function check() {
    const rules = build();
    document.getElementById("rules-json").textContent = JSON.stringify(rules, null, 2);
    localStorage.setItem(STORE, JSON.stringify(snapshot()));
    if (!tenantInput.value) { showErrors([{path: "(tenant id)", message: "give the tenant an id"}]); return; }
    try {
      const answer = await post("/api/wizard/validate", {tenant: tenantInput.value, rules: rules});
      showErrors(answer.errors);
      if (answer.exists) { say(`Tenant ${tenantInput.value} exists already: pick another id.`, false); }
    } catch (error) { say(error.message, false); }
  }

  function later() { clearTimeout(timer); timer = setTimeout(check, 250); }

  async function read(button, path, body, done) {
    button.disabled = true;
    try { done(await post(path, body)); say("Read.", true); later(); } catch (error) { say(error.message, false); }
    button.disabled = false;
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  tenantInput.addEventListener("input", later);
  document.getElementById("backend").addEventListener("change", () => { renderShop(); later(); });
  document.getElementById("read-shop").addEventListener("click", (event) => read(event.target, "/api/wizard/shop",
    {backend: backend(), conn_id: document.getElementById("shop-conn").value.trim()},
    (answer) => { shopData = answer; renderShop(); }));
  document.getElementById("read-fortnox").addEventListener("click", (event) => read(event.target, "/api/wizard/fortnox",
    {conn_id: document.getElementById("fortnox-conn").value.trim()}, (answer) => { fortnoxData = answer; renderFortnox(); }));
  document.getElementById("wizard-connect").addEventListener("click", async (event) => {
    const rules = build();
    event.target.disabled = true;
    try {
      localStorage.setItem(STORE, JSON.stringify(snapshot()));
      const started = await post("/api/connect", {tenant: tenantInput.value, fortnox_conn_id: rules.fortnox_conn_id,
        flow: rules.flow, document: (rules.orders || {}).document || "invoice"});
      if (window.top === window) { window.location.assign(started.url); return; }
      document.getElementById("consent-url").value = started.url;
      document.getElementById("consent-link").hidden = false;
      say("Consent started: open Fortnox's page in a new tab; come back here afterwards.", true);
    } catch (error) { say(error.message, false); }
    event.target.disabled = false;
  });
  const saveButton = document.getElementById("save");
  if (saveButton) {
    saveButton.addEventListener("click", async () => {
      saveButton.disabled = true;
      try {
        const saved = await post("/api/wizard/save", {tenant: tenantInput.value, rules: build()});
        localStorage.removeItem(STORE);
        const note = document.getElementById("saved");
        note.hidden = false;
        note.textContent = `Saved Variable ${saved.variable}. ${saved.orders_dag} appears at the next parse. `;
        const link = document.createElement("a");
        link.id = "saved-connect";
        link.href = `${document.querySelector('meta[name="jetfort-root"]').content}/${saved.connect}`;
        link.textContent = "Check its prerequisites";
        note.appendChild(link);
        say("Saved.", true);
      } catch (error) { say(error.message, false); saveButton.disabled = false; }
    });
  }
  window.addEventListener("pageshow", () => { restore(); check(); });
})();
