// jetfort page: retry and dismiss buttons of the quarantine list (JSON API, same origin, CSRF header).
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

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) { act(button); return; }
    const link = event.target.closest("a[target=_top]");
    if (link) { openInAirflow(link, event); }
  });
})();
