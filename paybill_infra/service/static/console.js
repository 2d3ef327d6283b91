// The ops console's live parts: it reads the same API the signed-in session may read (the session cookie
// goes along on same-origin requests) and writes only with the page's CSRF token. Text goes in through
// textContent, never as HTML.
"use strict";

const csrf = document.querySelector("meta[name='csrf-token']")?.content || "";
const main = document.querySelector("main[data-role]");
const platform = main && main.dataset.role === "platform_admin";
const followed = new Set();
const TERMINAL = new Set(["succeeded", "failed", "rolled_back"]);
const REFRESH_MS = 1500;

function cell(row, index) {
  return row.children[index];
}

function setCells(row, values) {
  values.forEach((value, index) => {
    if (value !== null && cell(row, index).textContent !== value) cell(row, index).textContent = value;
  });
}

function newRow(tbody, key, value, width, atTop) {
  const row = document.createElement("tr");
  row.dataset[key] = value;
  for (let i = 0; i < width; i += 1) row.appendChild(document.createElement("td"));
  if (atTop) tbody.prepend(row);
  else tbody.appendChild(row);
  return row;
}

function follow(row, id) {
  if (followed.has(id)) return;
  followed.add(id);
  let count = 0;
  const source = new EventSource(`/operations/${id}/events`);
  source.addEventListener("progress", (message) => {
    const event = JSON.parse(message.data);
    count += 1;
    cell(row, 5).textContent = `${count} events: ${event.message}`;
    if (cell(row, 3).textContent === "queued") cell(row, 3).textContent = "running";
  });
  source.addEventListener("end", (message) => {
    source.close();
    const operation = JSON.parse(message.data);
    if (operation) setCells(row, [null, null, null, operation.status, operation.phase, null, null, operation.error || ""]);
    row.dataset.done = "true";
  });
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (response.status === 401) {
    window.location.assign("/ops/login");
    return null;
  }
  return response.ok ? response.json() : null;
}

async function refreshTenants() {
  const tenants = await getJson("/tenants");
  if (!tenants) return;
  const tbody = document.querySelector("#tenants tbody");
  for (const t of tenants) {
    const row = tbody.querySelector(`tr[data-slug="${CSS.escape(t.slug)}"]`) || newRow(tbody, "slug", t.slug, 8, false);
    const subscription = t.subscription ? t.subscription.status : "";
    setCells(row, [t.slug, t.plan, t.isolation, t.cloud, t.region, t.state, t.stack || "", subscription]);
  }
}

// An operation that appears while the page is open is followed even if it already finished between two
// refreshes (a run can take less than REFRESH_MS): its stream replays the stored events, then ends.
let operationsLoaded = false;

async function refreshOperations() {
  const operations = await getJson("/operations?limit=50");
  if (!operations) return;
  const tbody = document.querySelector("#operations tbody");
  for (const o of operations.slice().reverse()) {
    let row = tbody.querySelector(`tr[data-id="${CSS.escape(o.id)}"]`);
    if (!row) {
      row = newRow(tbody, "id", o.id, 8, true);
      setCells(row, [o.created_at.slice(0, 19), o.kind, o.tenant || "fleet", o.status, o.phase, "", o.actor, o.error || ""]);
      if (operationsLoaded) follow(row, o.id);
    } else if (row.dataset.done !== "true") {
      setCells(row, [null, null, null, o.status, o.phase, null, null, o.error || ""]);
    }
    if (!TERMINAL.has(o.status)) follow(row, o.id);
  }
  operationsLoaded = true;
}

async function refreshRollouts() {
  const rollouts = await getJson("/rollouts?limit=10");
  const tbody = document.querySelector("#rollouts tbody");
  if (!rollouts || !tbody) return;
  for (const r of rollouts.slice().reverse()) {
    const row = tbody.querySelector(`tr[data-rollout="${CSS.escape(r.id)}"]`) || newRow(tbody, "rollout", r.id, 8, true);
    const units = Object.entries(r.counts).sort().map(([k, v]) => `${v} ${k}`).join(", ");
    const wave = r.current_wave === null ? "" : String(r.current_wave + 1);
    const failures = `${r.failures}/${r.error_budget}`;
    setCells(row, [r.created_at.slice(0, 19), r.kind, r.waves, r.status, wave, units, failures, r.error || ""]);
  }
}

async function refreshSummary() {
  const data = await getJson("/ops/summary");
  if (!data) return;
  const states = Object.entries(data.fleet.tenants).map(([k, v]) => `${k}: ${v}`).join(", ");
  const queue = Object.entries(data.queue).sort().map(([k, v]) => `${k}: ${v}`).join(", ");
  document.getElementById("states").textContent = states || "none";
  document.getElementById("queue").textContent = queue || "none";
  if (data.drift) {
    const drift = document.getElementById("drift");
    const table = document.createElement("table");
    table.id = "drift-report";
    for (const d of data.drift.drifted) {
      const row = table.insertRow();
      for (const value of [d.stack, d.urn, d.fields.join(", ")]) row.insertCell().textContent = value;
    }
    const status = document.createElement("p");
    status.id = "drift-status";
    status.textContent = data.drift.drifted.length ? `${data.drift.drifted.length} drifted resources` : "no drift";
    drift.replaceChildren(table, status);
  }
}

async function refresh() {
  try {
    await Promise.all([refreshTenants(), refreshOperations(), platform ? refreshSummary() : Promise.resolve(),
      platform ? refreshRollouts() : Promise.resolve()]);
    main.dataset.refreshes = String(Number(main.dataset.refreshes || "0") + 1);
  } finally {
    window.setTimeout(refresh, REFRESH_MS);
  }
}

function init() {
  if (!main) return;
  document.querySelectorAll("#operations tbody tr").forEach((row) => {
    if (!TERMINAL.has(cell(row, 3).textContent)) follow(row, row.dataset.id);
  });
  const check = document.getElementById("check-drift");
  if (check) {
    check.addEventListener("click", async () => {
      check.disabled = true;
      document.getElementById("drift-status").textContent = "drift check queued";
      await fetch("/ops/drift", { method: "POST", headers: { "X-CSRF-Token": csrf } });
      check.disabled = false;
      refreshOperations();
    });
  }
  refresh();
}

init();
