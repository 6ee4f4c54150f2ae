// The front explorer: axes, colour and filters chosen on the page; the 2-D staircase recomputed per view.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("front-data").textContent);
  const $ = (id) => document.getElementById(id);
  const N = D.hover.length;
  const axis = Object.fromEntries(D.axes.map((a) => [a.key, a]));
  const colourOpt = Object.fromEntries(D.colours.map((c) => [c.key, c]));
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                   "#bcbd22", "#17becf"];
  let selected = null;
  let sortState = { col: 0, dir: -1 };

  function fillSelect(sel, options, value) {
    for (const o of options) {
      const opt = document.createElement("option");
      opt.value = o.key;
      opt.textContent = o.label;
      sel.appendChild(opt);
    }
    sel.value = value;
  }
  const objectives = D.objectives.length >= 2 ? D.objectives : D.axes.map((a) => a.key);
  fillSelect($("x-axis"), D.axes, objectives[1]);
  fillSelect($("y-axis"), D.axes, objectives[0]);
  fillSelect($("colour"), D.colours, colourOpt.technology ? "technology" : D.colours[0].key);

  const accuracy = D.columns.accuracy;
  const finiteAcc = accuracy.filter((v) => v !== null);
  $("floor").value = finiteAcc.length ? Math.floor(Math.min(...finiteAcc) * 10) / 10 : 0;
  const techs = [...new Set(D.columns.technology)].sort();
  for (const t of techs) {
    const label = document.createElement("label");
    label.innerHTML = `<input type="checkbox" class="tech" value="${t}" checked> ${t}`;
    $("tech-filter").appendChild(label);
  }

  function shownRows() {
    const floor = parseFloat($("floor").value);
    const on = new Set([...document.querySelectorAll("input.tech:checked")].map((e) => e.value));
    const rows = [];
    for (let i = 0; i < N; i++) {
      if (!on.has(D.columns.technology[i])) continue;
      if (!Number.isNaN(floor) && !(accuracy[i] >= floor)) continue;
      rows.push(i);
    }
    return rows;
  }

  // The designs of `rows` that no other row of `rows` beats on both x and y (weakly), best x first.
  function staircase(rows, xk, yk) {
    const X = D.columns[xk], Y = D.columns[yk];
    const sx = axis[xk].maximize ? -1 : 1, sy = axis[yk].maximize ? -1 : 1;
    const order = rows.filter((i) => X[i] !== null && Y[i] !== null)
      .sort((a, b) => sx * (X[a] - X[b]) || sy * (Y[a] - Y[b]));
    const stairs = [];
    let best = Infinity;
    for (const i of order) {
      if (sy * Y[i] < best) { stairs.push(i); best = sy * Y[i]; }
    }
    return stairs;
  }

  function colourValues(rows, key) {
    const values = rows.map((i) => D.columns[key][i]);
    if (!colourOpt[key].categorical) return { numeric: true, values };
    const levels = [...new Set(D.columns[key].map(String))].sort();
    return { numeric: false, levels, values: values.map(String) };
  }

  function pointTrace(rows, name, marker) {
    return {
      type: "scatter", mode: "markers", name,
      x: rows.map((i) => D.columns[$("x-axis").value][i]),
      y: rows.map((i) => D.columns[$("y-axis").value][i]),
      customdata: rows, text: rows.map((i) => D.hover[i]),
      hovertemplate: "design %{customdata}<br>%{text}<extra></extra>", marker,
    };
  }

  function drawScatter() {
    const xk = $("x-axis").value, yk = $("y-axis").value, ck = $("colour").value;
    const rows = shownRows();
    const traces = [];
    const colours = colourValues(rows, ck);
    if (colours.numeric) {
      traces.push(pointTrace(rows, ck, { size: 8, color: colours.values, colorscale: "Viridis", showscale: true,
                                         colorbar: { title: { text: ck } } }));
    } else {
      colours.levels.forEach((level, j) => {
        const part = rows.filter((_, k) => colours.values[k] === level);
        if (part.length) traces.push(pointTrace(part, `${ck} ${level}`, { size: 8, color: PALETTE[j % PALETTE.length] }));
      });
    }
    const stairs = staircase(rows, xk, yk);
    const line = pointTrace(stairs, "2-D best (staircase)", { size: 12, color: "rgba(0,0,0,0)",
                                                             line: { color: "black", width: 1.5 } });
    line.mode = "lines+markers";
    line.line = { color: "black", width: 1.5, shape: axis[xk].maximize ? "vh" : "hv" };
    traces.push(line);
    if (D.reference && D.reference.values[xk] !== undefined && D.reference.values[yk] !== undefined) {
      traces.push({ type: "scatter", mode: "markers+text", name: "NeuroSim reference design",
                    x: [D.reference.values[xk]], y: [D.reference.values[yk]], text: ["reference"],
                    textposition: "top center", hovertemplate: `reference: ${D.reference.settings}<extra></extra>`,
                    marker: { symbol: "star", size: 18, color: "black" } });
    }
    if (selected !== null && rows.includes(selected)) {
      const sel = pointTrace([selected], "selected design", { size: 20, color: "rgba(0,0,0,0)",
                                                              line: { color: "#d62728", width: 3 } });
      traces.push(sel);
    }
    const layout = {
      margin: { t: 30, r: 20, b: 60, l: 70 }, hovermode: "closest", legend: { orientation: "h", y: -0.15 },
      xaxis: { title: { text: axis[xk].label }, type: axis[xk].log ? "log" : "linear" },
      yaxis: { title: { text: axis[yk].label }, type: axis[yk].log ? "log" : "linear" },
    };
    Plotly.react("scatter", traces, layout, { responsive: true, displaylogo: false });
    const others = D.objectives.filter((k) => k !== xk && k !== yk).map((k) => axis[k].label);
    $("staircase-note").textContent =
      `The black staircase joins the ${stairs.length} of ${rows.length} shown designs that no other shown design ` +
      `beats on both ${axis[xk].label} and ${axis[yk].label}. The other points are not dominated either: each is ` +
      `on the front because it is better than every staircase design on at least one objective not plotted here` +
      (others.length ? ` (${others.join(", ")}).` : ".");
    return rows;
  }

  function drawParallel(rows) {
    const ck = $("colour").value;
    const colours = colourValues(rows, ck);
    const keys = D.objectives.concat(D.axes.map((a) => a.key).filter((k) => !D.objectives.includes(k) &&
                                                                          k.startsWith("edap_uj")));
    const dimensions = keys.map((k) => ({
      label: axis[k].log ? `log10 ${axis[k].label}` : axis[k].label,
      values: rows.map((i) => (axis[k].log ? Math.log10(D.columns[k][i]) : D.columns[k][i])),
    }));
    const color = colours.numeric ? colours.values : colours.values.map((v) => colours.levels.indexOf(v));
    const n = colours.numeric ? 0 : Math.max(colours.levels.length - 1, 1);
    const colorscale = colours.numeric ? "Viridis"
      : colours.levels.flatMap((_, j) => [[j / (n + 1), PALETTE[j % 10]], [(j + 1) / (n + 1), PALETTE[j % 10]]]);
    Plotly.react("parallel", [{ type: "parcoords", dimensions,
                                line: { color, colorscale, cmin: colours.numeric ? undefined : 0,
                                        cmax: colours.numeric ? undefined : n, showscale: colours.numeric } }],
                 { margin: { t: 50, r: 60, b: 30, l: 60 } }, { displaylogo: false });
  }

  function drawTable(rows) {
    const head = $("front-table").tHead, body = $("front-table").tBodies[0];
    head.innerHTML = "<tr><th>design</th>" + D.table.headers.map((h, j) =>
      `<th data-col="${j}" class="${sortState.col === j ? (sortState.dir > 0 ? "sorted-asc" : "sorted-desc") : ""}">${h}</th>`
    ).join("") + "</tr>";
    const c = sortState.col, dir = sortState.dir;
    const order = rows.slice().sort((a, b) => {
      const va = D.table.sort[a][c], vb = D.table.sort[b][c];
      if (va === vb) return a - b;
      if (va === null) return 1;
      if (vb === null) return -1;
      return (va < vb ? -1 : 1) * dir;
    });
    body.innerHTML = order.map((i) =>
      `<tr data-row="${i}"${i === selected ? ' class="selected"' : ""}><td>${i}</td>` +
      D.table.cells[i].map((v) => `<td>${v}</td>`).join("") + "</tr>").join("");
    $("table-count").textContent = `${rows.length} of ${N} front designs shown.`;
  }

  function select(i) {
    selected = i;
    $("details").innerHTML = `<b>design ${i}</b><br>${D.hover[i]}`;
    redraw();
    const row = document.querySelector(`#front-table tr[data-row="${i}"]`);
    if (row) row.scrollIntoView({ block: "nearest" });
  }

  function redraw() {
    const rows = drawScatter();
    drawParallel(rows);
    drawTable(rows);
    saveView();
  }

  // The view lives in the address's #fragment (x, y, colour, floor, tech, select), so it can be shared.
  function saveView() {
    const on = [...document.querySelectorAll("input.tech:checked")].map((e) => e.value);
    const view = new URLSearchParams({ x: $("x-axis").value, y: $("y-axis").value, colour: $("colour").value,
                                       floor: $("floor").value, tech: on.join(",") });
    if (selected !== null) view.set("select", String(selected));
    try { history.replaceState(null, "", "#" + view.toString()); } catch (e) { /* a sandboxed frame */ }
  }

  function loadView() {
    const view = new URLSearchParams(location.hash.slice(1));
    for (const [key, id] of [["x", "x-axis"], ["y", "y-axis"], ["colour", "colour"]]) {
      const v = view.get(key);
      if (v && [...$(id).options].some((o) => o.value === v)) $(id).value = v;
    }
    if (view.has("floor") && !Number.isNaN(parseFloat(view.get("floor")))) $("floor").value = view.get("floor");
    if (view.has("tech")) {
      const on = new Set(view.get("tech").split(","));
      for (const box of document.querySelectorAll("input.tech")) box.checked = on.has(box.value);
    }
    const pick = parseInt(view.get("select"), 10);
    return Number.isInteger(pick) && pick >= 0 && pick < N ? pick : null;
  }

  if (D.reference) {
    $("reference-note").textContent = `The star is the NeuroSim reference design: ${D.reference.settings}.`;
  }
  for (const id of ["x-axis", "y-axis", "colour", "floor"]) $(id).addEventListener("change", redraw);
  $("tech-filter").addEventListener("change", redraw);
  $("front-table").tHead.addEventListener("click", (ev) => {
    const th = ev.target.closest("th[data-col]");
    if (!th) return;
    const col = Number(th.dataset.col);
    sortState = { col, dir: sortState.col === col ? -sortState.dir : -1 };
    drawTable(shownRows());
  });
  $("front-table").tBodies[0].addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-row]");
    if (tr) select(Number(tr.dataset.row));
  });
  const initial = loadView();
  if (initial === null) redraw(); else select(initial);
  $("scatter").on("plotly_click", (ev) => {
    const p = ev.points[0];
    if (p && typeof p.customdata === "number") select(p.customdata);
  });
})();
