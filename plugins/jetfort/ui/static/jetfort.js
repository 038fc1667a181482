// jetfort page: retry and dismiss buttons of the quarantine list, the connect-Fortnox buttons
// (JSON API, same origin, CSRF header).
(function () {
  "use strict";
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const root = meta("jetfort-root");
  const flash = document.getElementById("flash");

  function say(text, ok, runId) {
    flash.textContent = text;
    flash.className = ok ? "good" : "bad";
    if (runId) {
      const span = document.createElement("span");
      span.dataset.runId = runId;
      span.textContent = " (" + runId + ")";
      flash.appendChild(span);
    }
  }

  async function post(path, body) {
    const response = await fetch(root + path, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-Jetfort-CSRF": meta("jetfort-csrf")},
      body: JSON.stringify(body),
    });
    let answer = {};
    try { answer = await response.json(); } catch (e) { answer = {detail: response.statusText}; }
    if (!response.ok) {
      throw new Error(typeof answer.detail === "string" ? answer.detail : JSON.stringify(answer.detail));
    }
    return answer;
  }

  async function act(button) {
    const row = button.closest("tr[data-key]");
    const tenant = row.dataset.tenant, key = row.dataset.key;
    button.disabled = true;
    try {
      if (button.dataset.action === "retry") {
        const run = await post("/api/quarantine/retry", {tenant: tenant, keys: [key]});
        row.dataset.state = "retried";
        say(`Retry of order ${run.order_numbers.join(", ")} started: ${run.dag_id}`, true, run.dag_run_id);
      } else {
        const note = (row.querySelector("textarea[data-note]") || {}).value || "";
        if (!note.trim()) { say("Write a note saying why before dismissing.", false); button.disabled = false; return; }
        await post("/api/quarantine/dismiss", {tenant: tenant, kind: row.dataset.kind, key: key, note: note});
        say(`Dismissed ${key}.`, true);
        row.remove();
      }
    } catch (error) {
      say(error.message, false);
      button.disabled = false;
    }
  }

  // Inside Airflow's nav the page is an iframe sandboxed without allow-top-navigation, so a
  // target=_top link does nothing there: hand the URL to the Airflow UI's router instead (same origin).
  function openInAirflow(link, event) {
    if (window.top === window) { return; }
    event.preventDefault();
    window.top.history.pushState({}, "", link.href);
    window.top.dispatchEvent(new PopStateEvent("popstate", {state: {}}));
  }

  // Connect Fortnox: start the consent here, then go to Fortnox's consent page. Inside Airflow's frame
  // (no top navigation, no pop-ups) the address is shown to open in a new tab instead.
  async function connect(button) {
    button.disabled = true;
    try {
      const started = await post("/api/connect", {tenant: button.dataset.tenant,
                                                  service_account: button.dataset.connect === "service"});
      if (window.top === window) { window.location.assign(started.url); return; }
      document.getElementById("consent-url").value = started.url;
      document.getElementById("consent-link").hidden = false;
      say("Consent started: open Fortnox's page in a new tab within 10 minutes.", true);
    } catch (error) {
      say(error.message, false);
    }
    button.disabled = false;
  }

  // Check prerequisites: the pre-flight's findings, listed under the button.
  async function checkPrerequisites(button) {
    const target = document.getElementById("prerequisites-result");
    button.disabled = true;
    target.textContent = "checking…";
    try {
      const found = await post("/api/prerequisites", {tenant: button.dataset.tenant});
      const list = document.createElement("ul");
      list.id = found.gaps.length ? "gaps" : "no-gaps";
      list.className = found.gaps.length ? "bad" : "good";
      for (const text of found.gaps.length ? found.gaps : ["Nothing is missing: Fortnox and the shops have what the rules use."]) {
        const item = document.createElement("li");
        item.textContent = text;
        list.appendChild(item);
      }
      for (const text of found.warnings) {
        const item = document.createElement("li");
        item.textContent = "warning: " + text;
        list.appendChild(item);
      }
      target.replaceChildren(list);
    } catch (error) {
      target.textContent = "";
      say(error.message, false);
    }
    button.disabled = false;
  }

  window.jetfort = {post: post, say: say};  // for the wizard's script

  document.addEventListener("click", (event) => {
    const checking = event.target.closest("button[data-prerequisites]");
    if (checking) { checkPrerequisites(checking); return; }
    const button = event.target.closest("button[data-action]");
    if (button) { act(button); return; }
    const connecting = event.target.closest("button[data-connect]");
    if (connecting) { connect(connecting); return; }
    const link = event.target.closest("a[target=_top]");
    if (link) { openInAirflow(link, event); }
  });
})();
