// The admin dashboard's browser code (docs/admin.md). Everything it shows and does goes
// through the server API (/api/…, docs/api.md) with the admin token as the bearer: the page
// itself holds no data. The token comes from the URL fragment (#token=…, which browsers never
// send to a server) or the sign-in form, and lives in sessionStorage (this tab only).
"use strict";
(() => {
  const POLL_MS = 1000;
  const TABLE_EVERY = 2; // connections and rooms are refreshed every second poll
  const PAGE = 50;
  const CHART_POINTS = 300;
  const $ = (id) => document.getElementById(id);
  const metrics = { firstRenderMs: undefined, updates: [] };
  window.__admin = metrics; // read by the Chromium test (time to first render, per update)

  let token = takeToken();
  let timer;
  let ticks = 0;
  let last; // the previous stats snapshot, for rates
  let chart;
  const series = [[], [], [], []]; // time, connections, tasks/s, pushes/s
  const paging = { connections: { offset: 0, total: 0 }, rooms: { offset: 0, total: 0 } };

  function takeToken() {
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (match) {
      sessionStorage.setItem("switchboard.admin.token", decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname); // the token does not stay in the address bar
    }
    return sessionStorage.getItem("switchboard.admin.token");
  }

  class ApiFailure extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  async function api(path, body) {
    const init = { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const json = await res.json().catch(() => null);
    if (!res.ok) {
      const error = json && json.error ? json.error : { code: String(res.status), message: res.statusText };
      if (res.status === 401) signOut("The token was refused.");
      throw new ApiFailure(res.status, error.code, error.message);
    }
    return json;
  }

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node[key] = value;
    }
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
    return node;
  }

  function fill(tableId, rows) {
    const body = $(tableId).tBodies[0];
    body.replaceChildren(...rows);
  }

  /** `where`: "status" for the polling line, "last-action" for what the last button did (it stays). */
  function say(text, isError = false, where = "status") {
    const line = $(where);
    line.textContent = text;
    line.className = isError ? "error" : "muted";
  }

  const number = (n) => (n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n)));
  const duration = (s) => (s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`);
  const bytes = (n) => `${(n / 1048576).toFixed(0)} MiB`;

  // ── figures, chart, endpoints, services, nodes (one GET /api/stats per second) ──────────
  function renderStats(stats) {
    const dt = last ? (stats.at - last.at) / 1000 : 0;
    const rate = (key) => (last && dt > 0 ? Math.max(0, (stats.totals[key] - last.totals[key]) / dt) : 0);
    const tasks = rate("tasks");
    const pushes = rate("pushes");
    last = stats;
    $("f-connections").textContent = number(stats.connections);
    $("f-rooms").textContent = number(stats.rooms);
    $("f-tasks").textContent = number(tasks);
    $("f-pushes").textContent = number(pushes);
    $("f-uptime").textContent = duration(stats.uptimeSeconds);
    $("f-memory").textContent = bytes(stats.memory.rss);
    $("node").textContent = `node ${stats.cluster.nodeId} · ${stats.cluster.kind} · ${stats.cluster.status}`;
    const level = $("log-level");
    if (document.activeElement !== level) level.value = stats.logLevel;
    level.disabled = false;

    series[0].push(stats.at / 1000);
    series[1].push(stats.connections);
    series[2].push(tasks);
    series[3].push(pushes);
    if (series[0].length > CHART_POINTS) for (const s of series) s.shift();
    drawChart();

    fill("endpoints", stats.endpoints.map((e) => el("tr", {},
      el("td", {}, e.path),
      el("td", { class: "num" }, `${e.connections} / ${e.maxConnections}`),
      el("td", { class: "num" }, e.accepted),
      el("td", { class: "num" }, e.rejected),
      el("td", { class: e.enabled ? "state-enabled" : "state-disabled" }, e.enabled ? "enabled" : "disabled"),
      el("td", {}, el("button", { type: "button", dataset: { action: "endpoint", path: e.path, enable: String(!e.enabled) } }, e.enabled ? "Disable" : "Enable")),
    )));
    fill("services", stats.services.map((s) => el("tr", {},
      el("td", {}, s.name),
      el("td", { class: `state-${s.state}` }, s.state),
      el("td", { class: "num" }, s.restarts),
      el("td", { title: s.lastError ?? "" }, s.lastError ?? ""),
      el("td", {}, el("button", { type: "button", dataset: { action: "restart", name: s.name } }, "Restart")),
    )));
    fill("nodes", stats.cluster.nodes.map((n) => el("tr", {},
      el("td", {}, n.nodeId + (n.nodeId === stats.cluster.nodeId ? " (this)" : "")),
      el("td", { class: "num" }, n.connections),
      el("td", {}, new Date(n.lastSeen).toLocaleTimeString()),
    )));
    syncSelect(document.querySelector("#conn-search select[name=endpoint]"), stats.endpoints.map((e) => e.path), "any endpoint");
    const apps = stats.endpoints.filter((e) => e.app).map((e) => e.path);
    syncSelect(document.querySelector("#room-search select[name=app]"), apps, "every app");
    syncSelect(document.querySelector("#push select[name=app]"), apps);
  }

  function syncSelect(select, values, anyLabel) {
    const wanted = (anyLabel ? [""] : []).concat(values);
    const have = [...select.options].map((o) => o.value);
    if (have.join("\n") === wanted.join("\n")) return;
    const keep = select.value;
    select.replaceChildren(...wanted.map((v) => el("option", { value: v }, v === "" ? anyLabel : v)));
    if (wanted.includes(keep)) select.value = keep;
  }

  function drawChart() {
    if (typeof uPlot === "undefined") return;
    if (chart === undefined) {
      const box = $("chart");
      chart = new uPlot({
        width: Math.max(300, box.clientWidth),
        height: 220,
        series: [
          {},
          { label: "connections", stroke: "#2f6fde", scale: "conn", value: (_u, v) => (v == null ? "–" : number(v)) },
          { label: "tasks/s", stroke: "#18804b", scale: "rate", value: (_u, v) => (v == null ? "–" : v.toFixed(1)) },
          { label: "pushes/s", stroke: "#d9822b", scale: "rate", value: (_u, v) => (v == null ? "–" : v.toFixed(1)) },
        ],
        axes: [{}, { scale: "conn", label: "connections" }, { scale: "rate", side: 1, label: "per second", grid: { show: false } }],
        scales: { x: { time: true } },
      }, series, box);
      addEventListener("resize", () => chart.setSize({ width: Math.max(300, box.clientWidth), height: 220 }));
    } else {
      chart.setData(series);
    }
  }

  // ── connections and rooms: server-side pages ─────────────────────────────────────────
  function formQuery(form, extra) {
    const query = new URLSearchParams(extra);
    for (const [key, value] of new FormData(form)) if (value !== "") query.set(key, String(value));
    return query;
  }

  async function loadConnections() {
    const query = formQuery($("conn-search"), { limit: PAGE, offset: paging.connections.offset });
    const page = await api(`/api/connections?${query}`);
    paging.connections.total = page.total;
    $("conn-total").textContent = `(${page.total})`;
    pagerText("connections", page);
    fill("connections", page.items.map((c) => el("tr", {},
      el("td", {}, c.id),
      el("td", {}, c.endpoint),
      el("td", { title: c.user ? c.user.id : "" }, c.user ? c.user.name : ""),
      el("td", { title: (c.rooms ?? []).join(", ") }, (c.rooms ?? []).join(", ")),
      el("td", {}, c.remoteAddress ?? ""),
      el("td", { class: "num" }, c.bufferedAmount),
      el("td", {}, el("button", { type: "button", class: "danger", dataset: { action: "kick", id: c.id } }, "Kick")),
    )));
  }

  async function loadRooms() {
    const query = formQuery($("room-search"), { limit: PAGE, offset: paging.rooms.offset });
    const page = await api(`/api/rooms?${query}`);
    paging.rooms.total = page.total;
    $("room-total").textContent = `(${page.total})`;
    pagerText("rooms", page);
    fill("rooms", page.items.map((r) => el("tr", {},
      el("td", {}, r.app),
      el("td", { title: r.room }, r.room),
      el("td", { class: "num" }, r.members),
      el("td", {}, el("button", { type: "button", dataset: { action: "presence", app: r.app, room: r.room } }, "Members")),
    )));
  }

  function pagerText(name, page) {
    const pager = document.querySelector(`.pager[data-for=${name}]`);
    const end = Math.min(page.total, page.offset + page.items.length);
    pager.querySelector("span").textContent = page.total === 0 ? "none" : `${page.offset + 1}–${end} of ${page.total}`;
    pager.querySelector("[data-step='-1']").disabled = page.offset === 0;
    pager.querySelector("[data-step='1']").disabled = end >= page.total;
  }

  // ── polling ──────────────────────────────────────────────────────────────────────────
  async function tick() {
    const started = performance.now();
    try {
      const work = [api("/api/stats").then(renderStats)];
      if (ticks % TABLE_EVERY === 0) work.push(loadConnections(), loadRooms());
      await Promise.all(work);
      const now = performance.now();
      if (metrics.firstRenderMs === undefined) {
        metrics.firstRenderMs = now; // since navigation start
        document.body.dataset.ready = "1";
      } else {
        metrics.updates.push({ ms: now - started, tables: ticks % TABLE_EVERY === 0 });
        if (metrics.updates.length > 1000) metrics.updates.shift();
      }
      say(`updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      if (!(err instanceof ApiFailure && err.status === 401)) say(`update failed: ${err.message}`, true);
    }
    ticks++;
    if (token) timer = setTimeout(tick, POLL_MS);
  }

  // ── actions (the same /api routes a backend calls) ───────────────────────────────────
  async function act(what, run) {
    try {
      const result = await run();
      say(`${what}: done`, false, "last-action");
      return result;
    } catch (err) {
      say(`${what}: ${err.message}`, true, "last-action");
      return undefined;
    }
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action], .pager button");
    if (!button) return;
    const d = button.dataset;
    if (button.closest(".pager")) {
      const name = button.closest(".pager").dataset.for;
      paging[name].offset = Math.max(0, paging[name].offset + Number(d.step) * PAGE);
      await (name === "connections" ? loadConnections() : loadRooms()).catch((err) => say(err.message, true));
      return;
    }
    if (d.action === "kick") {
      const code = Number($("kick-code").value);
      await act(`kick ${d.id}`, () => api("/api/disconnect", { connection: d.id, code, reason: "kicked by admin" }));
      await loadConnections().catch(() => undefined);
    } else if (d.action === "endpoint") {
      await act(`endpoint ${d.path}`, () => api("/api/endpoint", { endpoint: d.path, enabled: d.enable === "true" }));
      renderStats(await api("/api/stats"));
    } else if (d.action === "restart") {
      button.disabled = true;
      await act(`restart ${d.name}`, () => api("/api/service/restart", { name: d.name }));
      renderStats(await api("/api/stats"));
    } else if (d.action === "presence") {
      const result = await act(`members of ${d.room}`, () => api("/api/presence", { app: d.app, room: d.room }));
      $("presence").hidden = false;
      $("presence-room").textContent = d.room;
      const members = result ? result.members : [];
      $("presence-list").replaceChildren(...members.map((m) => el("li", {}, `${m.user.name} (${m.user.id}) · ${m.connection}`)),
        ...(result && result.total > members.length ? [el("li", {}, `… ${result.total - members.length} more`)] : []));
    }
  });

  for (const id of ["conn-search", "room-search"]) {
    $(id).addEventListener("submit", (event) => {
      event.preventDefault();
      const name = id === "conn-search" ? "connections" : "rooms";
      paging[name].offset = 0;
      (name === "connections" ? loadConnections() : loadRooms()).catch((err) => say(err.message, true));
    });
  }

  $("push").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const out = $("push-result");
    let data;
    try {
      data = JSON.parse(String(form.get("data") || "null"));
    } catch (err) {
      out.textContent = `data is not JSON: ${err.message}`;
      out.className = "error";
      return;
    }
    const result = await act("push", () => api("/api/publish", { app: form.get("app") || undefined, room: form.get("room"), task: form.get("task"), data }));
    out.className = result ? "" : "error";
    out.textContent = result ? `pushed to ${result.room}: offset ${result.offset}, ${result.members} member(s) here` : $("last-action").textContent;
  });

  $("log-level").addEventListener("change", async (event) => {
    await act(`log level ${event.target.value}`, () => api("/api/log-level", { level: event.target.value }));
  });

  // ── sign in / out ────────────────────────────────────────────────────────────────────
  function signOut(message) {
    clearTimeout(timer);
    token = null;
    sessionStorage.removeItem("switchboard.admin.token");
    $("dashboard").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message ?? "";
  }

  function signIn() {
    $("login").hidden = true;
    $("dashboard").hidden = false;
    $("logout").hidden = false;
    ticks = 0;
    last = undefined;
    tick();
  }

  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("switchboard.admin.token", token);
    $("token").value = "";
    signIn();
  });
  $("logout").addEventListener("click", () => signOut());

  if (token) signIn();
  else signOut();
})();
