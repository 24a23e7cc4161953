"use strict";
// The page over the API: a form per question, the answer drawn from the API's own
// figures, and the state in the URL. Everything the API sends is put on the page as
// text (textContent), never as markup.
(() => {
  const $ = (id) => document.getElementById(id);
  const VIEWS = {
    inference: {
      endpoint: "/api/memory/inference",
      title: "Inference memory per GPU",
      fields: ["model_name", "precision", "batch_size", "sequence_length", "max_new_tokens",
        "num_gpus", "engine", "gpu", "unit"],
    },
    training: {
      endpoint: "/api/memory/training",
      title: "Training memory per GPU",
      fields: ["model_name", "method", "precision", "batch_size", "sequence_length", "num_gpus",
        "optimizer", "gradient_checkpointing", "lora_rank", "framework", "zero_stage", "unit"],
    },
    plan: {
      endpoint: "/api/plan",
      title: "Instances that hold it, and what they cost",
      fields: ["mode", "model_name", "precision", "method", "batch_size", "sequence_length",
        "max_new_tokens", "concurrent_sequences", "input_tokens", "output_tokens",
        "concurrency", "ttft_ms", "tpot_ms", "max_gpus", "unit"],
    },
  };
  // How each field is entered. Choices, defaults and ranges come from
  // /api/config/options; only the labels are the page's own.
  const KINDS = {
    model_name: { type: "text", label: "Model", list: "model-list",
      hint: "A registry name, Hugging Face id or variant (Qwen/Qwen3-8B, Llama-3.1-8B-Instruct)." },
    precision: { type: "select", label: "Precision", choices: (o) => o.data_types.map((d) => d.name) },
    batch_size: { type: "int", label: "Batch size (sequences)" },
    sequence_length: { type: "int", label: "Sequence length (tokens)" },
    max_new_tokens: { type: "int", label: "New tokens per sequence" },
    num_gpus: { type: "int", label: "GPUs (tensor parallel)" },
    engine: { type: "select", label: "Engine", choices: (o) => o.engines },
    gpu: { type: "text", label: "GPU (needed for vLLM)", list: "gpu-list" },
    unit: { type: "select", label: "Unit", choices: (o) => o.units },
    method: { type: "select", label: "Training method", choices: (o) => o.training_methods.map((m) => m.name) },
    optimizer: { type: "select", label: "Optimizer", choices: (o) => o.optimizers.map((m) => m.name) },
    gradient_checkpointing: { type: "select", label: "Gradient checkpointing", choices: (o) => o.gradient_checkpointing },
    lora_rank: { type: "int", label: "LoRA rank" },
    framework: { type: "select", label: "Framework", choices: (o) => o.frameworks },
    zero_stage: { type: "select", label: "ZeRO stage", choices: (o) => o.zero_stages.map(String), int: true },
    mode: { type: "select", label: "Workload", choices: () => ["inference", "training"], required: true },
    concurrent_sequences: { type: "int", label: "Sequences held at once" },
    input_tokens: { type: "int", label: "Traffic: prompt tokens" },
    output_tokens: { type: "int", label: "Traffic: output tokens" },
    concurrency: { type: "int", label: "Traffic: concurrent users" },
    ttft_ms: { type: "number", label: "Target time to first token (ms)" },
    tpot_ms: { type: "number", label: "Target time per output token (ms)" },
    max_gpus: { type: "int", label: "At most GPUs per candidate" },
  };
  // The page's first example (not the API's defaults, which apply to empty fields).
  const EXAMPLE = { model_name: "Llama-3.1-8B", batch_size: "1", sequence_length: "4096", mode: "inference" };
  const PARTS = {
    inference: [["model_weights", "Weights"], ["kv_cache", "KV cache"],
      ["activation_memory", "Activations"], ["runtime_overhead", "Runtime"]],
    training: [["model_weights", "Weights"], ["gradients_memory", "Gradients"],
      ["optimizer_memory", "Optimizer"], ["activation_memory", "Activations"],
      ["runtime_overhead", "Runtime"]],
  };
  let options = null;
  // The view whose fields the form holds (the radio changes before they are rebuilt).
  let built = "inference";
  let rows = [];
  let sort = { key: null, dir: 1 };

  const el = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const view = () => document.querySelector('input[name="view"]:checked').value;
  const getJson = async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  };
  // Longest config.json kept in a shared link (longer ones are left out and said so).
  const MAX_LINK_CONFIG = 4000;

  function hintFor(name) {
    const plan = view() === "plan";
    const d = plan && name in options.plan_defaults ? options.plan_defaults[name] : options.defaults[name];
    const parts = [];
    if (KINDS[name].hint) parts.push(KINDS[name].hint);
    if (d !== undefined && d !== null) parts.push(`Default: ${d}.`);
    if (options.limits[name] !== undefined) parts.push(`At most ${options.limits[name]}.`);
    return parts.join(" ");
  }

  function buildFields(values) {
    const box = $("fields");
    box.replaceChildren();
    built = view();
    for (const name of VIEWS[built].fields) {
      const kind = KINDS[name];
      const wrap = el("div", { class: "field" });
      wrap.append(el("label", { for: name }, kind.label));
      let input;
      if (kind.type === "select") {
        input = el("select", { id: name, name });
        if (!kind.required) input.append(el("option", { value: "" }, "(the API's default)"));
        for (const c of kind.choices(options)) input.append(el("option", { value: c }, c));
      } else {
        // Text, not type=number: what was typed reaches the API as typed, and a value
        // it refuses comes back with its error beside the field.
        input = el("input", { id: name, name, type: "text", autocomplete: "off" });
        if (kind.list) input.setAttribute("list", kind.list);
        if (kind.type !== "text") input.setAttribute("inputmode", kind.type === "int" ? "numeric" : "decimal");
      }
      input.setAttribute("aria-describedby", `${name}-hint ${name}-error`);
      const hint = hintFor(name);
      wrap.append(input, el("p", { class: "hint", id: `${name}-hint` }, hint),
        el("p", { class: "error", id: `${name}-error` }));
      box.append(wrap);
      if (values[name] !== undefined) input.value = values[name];
    }
  }

  function formValues() {
    const values = {};
    for (const name of VIEWS[built].fields) {
      const v = $(name).value.trim();
      if (v !== "") values[name] = v;
    }
    const config = $("config").value.trim();
    if (config) values.config = config;
    return values;
  }

  function bodyOf(values) {
    const body = {};
    for (const [name, v] of Object.entries(values)) {
      if (name === "config") continue;
      const kind = KINDS[name];
      const n = Number(v);
      // A number the API refuses is sent as typed, so that its error names the field.
      body[name] = (kind.type === "int" || kind.type === "number" || kind.int) && v !== "" && Number.isFinite(n) ? n : v;
    }
    if (values.config) {
      body.config = JSON.parse(values.config);
      delete body.model_name;
    }
    return body;
  }

  function clearErrors() {
    for (const node of document.querySelectorAll(".error")) node.textContent = "";
    for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  function showError(field, message) {
    // `gpus[0]`, `config.hidden_size`, `prices.x`: the form field it starts with.
    const name = field ? field.split(/[.[]/)[0] : "";
    const input = name && $(name);
    const slot = input && $(`${name}-error`);
    if (slot) {
      slot.textContent = message;
      input.setAttribute("aria-invalid", "true");
      if (name === "config") $("config-box").open = true;
      input.focus();
    } else {
      $("form-error").textContent = message;
    }
  }

  function curlOf(endpoint, body) {
    const json = JSON.stringify(body).replace(/'/g, "'\\''");
    return `curl -s ${location.origin}${endpoint} -H 'content-type: application/json' -d '${json}'`;
  }

  function saveState(values) {
    const kept = { ...values };
    if (kept.config && kept.config.length > MAX_LINK_CONFIG) delete kept.config;
    const q = new URLSearchParams({ view: view(), ...kept });
    history.replaceState(null, "", `${location.pathname}?${q}`);
    return kept.config === values.config;
  }

  async function run(event) {
    if (event) event.preventDefault();
    clearErrors();
    const values = formValues();
    let body;
    try {
      body = bodyOf(values);
    } catch (e) {
      showError("config", `config: not valid JSON (${e.message})`);
      return;
    }
    const v = VIEWS[view()];
    const whole = saveState(values);
    $("curl").textContent = curlOf(v.endpoint, body);
    $("run").disabled = true;
    $("status").textContent = "Working it out…";
    // Only the latest request's answer is shown (another may have started since).
    const asked = Number(document.body.dataset.requests || 0) + 1;
    document.body.dataset.requests = String(asked);
    const latest = () => document.body.dataset.requests === String(asked);
    const done = () => { document.body.dataset.answered = String(asked); };
    let response;
    let answer;
    try {
      response = await fetch(v.endpoint, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
      });
      answer = await response.json();
    } catch (e) {
      if (!latest()) return;
      $("form-error").textContent = `The API could not be reached: ${e.message}`;
      $("status").textContent = "";
      done();
      return;
    } finally {
      $("run").disabled = false;
    }
    if (!latest()) return;
    if (!response.ok) {
      showError(answer.field, answer.error || `HTTP ${response.status}`);
      $("status").textContent = "The API refused the request: see the message beside the field.";
      done();
      return;
    }
    render(answer);
    $("status").textContent = `Answered: ${$("summary").textContent}` +
      (whole ? "" : " (the config is too long to keep in the page's link)");
    done();
  }

  function legend(parts) {
    const list = el("ul", { class: "legend" });
    for (const [key, label] of parts) {
      const item = el("li");
      item.append(el("span", { class: `swatch seg ${key}`, "aria-hidden": "true" }), label);
      list.append(item);
    }
    return list;
  }

  function bar(title, parts, bytes, text, total) {
    const row = el("div", { class: "bar-row" });
    row.append(el("div", { class: "bar-title" }, title));
    const summary = parts.map(([k, label]) => `${label} ${text[k]}`).join(", ");
    const box = el("div", { class: "bar", role: "img", "aria-label": `${title}: ${summary}` });
    for (const [key, label] of parts) {
      const share = total > 0 ? (100 * bytes[key]) / total : 0;
      const seg = el("div", { class: `seg ${key}`, title: `${label}: ${text[key]} (${share.toFixed(1)} %)` });
      seg.style.width = `${share}%`;
      box.append(seg);
    }
    row.append(box);
    return row;
  }

  function notes(warnings) {
    const box = $("notes");
    box.replaceChildren();
    if (!warnings || warnings.length === 0) return;
    box.append(el("h3", {}, "Warnings"));
    const list = el("ul", { class: "warnings" });
    for (const w of new Set(warnings)) list.append(el("li", {}, w));
    box.append(list);
  }

  // Where a model read from the Hugging Face Hub came from, and what its files hold.
  function hubSource(hub) {
    const at = hub.commit ? `commit ${hub.commit.slice(0, 12)}` : hub.revision;
    const c = hub.checkpoint;
    const count = (n) => n.toLocaleString("en-US");
    let held = "its weights were not read; sized from its config.json";
    if (c && c.weights != null) {
      const from = c.counted_by === "headers" ? "their headers" : "the Hub's count";
      held = `${count(c.weights)} weights in ${c.files} safetensors files (${from})`;
    } else if (c) {
      const values = Object.values(c.values_by_dtype).reduce((a, b) => a + b, 0);
      held = `${count(values)} values stored, weights and scales together (the Hub's count)`;
    }
    return `Read from the Hugging Face Hub at ${hub.revision} (${at}): ${held}.`;
  }

  function renderMemory(answer) {
    const kind = answer.calculation_type;
    const parts = PARTS[kind];
    const totalKey = kind === "inference" ? "inference_memory" : "training_memory";
    const bytes = answer.memory_bytes;
    const text = answer.memory_requirements;
    const gpus = answer.parameters.num_gpus || 1;
    $("result-title").textContent = VIEWS[kind].title;
    const hub = answer.model.hub;
    const name = hub ? hub.repo : answer.model.name || "the pasted config";
    $("summary").replaceChildren(el("p", {},
      `${name}: ${text[totalKey]} per GPU${gpus > 1 ? ` on each of ${gpus} GPUs` : ""}.`));
    if (hub) $("summary").append(el("p", { class: "hint", id: "hub-source" }, hubSource(hub)));
    $("bars").replaceChildren(bar(`Per GPU: ${text[totalKey]}`, parts, bytes, text, bytes[totalKey]), legend(parts));
    const table = el("table", { id: "breakdown" });
    table.append(el("caption", { class: "visually-hidden" }, "Memory per GPU by component"));
    const head = el("tr");
    for (const h of ["Component", "Memory", "Bytes", "Share"]) {
      head.append(el("th", { scope: "col", class: { Component: "", Bytes: "num bytes" }[h] ?? "num" }, h));
    }
    const thead = el("thead");
    thead.append(head);
    table.append(thead);
    const tbody = el("tbody");
    for (const [key, label] of parts) {
      const tr = el("tr", { "data-part": key });
      tr.append(el("th", { scope: "row" }, label), el("td", { class: "num" }, text[key]),
        el("td", { class: "num bytes" }, bytes[key].toLocaleString("en-US")),
        el("td", { class: "num" }, `${((100 * bytes[key]) / bytes[totalKey]).toFixed(1)} %`));
      tbody.append(tr);
    }
    const total = el("tr", { "data-part": totalKey });
    total.append(el("th", { scope: "row" }, "Total"), el("td", { class: "num" }, text[totalKey]),
      el("td", { class: "num bytes" }, bytes[totalKey].toLocaleString("en-US")), el("td", { class: "num" }, "100.0 %"));
    tbody.append(total);
    table.append(tbody);
    $("table").replaceChildren(table);
    notes(answer.warnings);
  }

  const serving = (c) => c.serving || {};
  // What a month costs: every instance the demand needs when the plan has one.
  const monthly = (c) => serving(c).usd_per_month_for_demand ?? c.usd_per_month;
  // Why a row does not fit, else its notes and warnings, each once.
  const why = (c) => {
    const said = [c.missing, serving(c).error, ...(c.notes || []), ...(c.warnings || []),
      ...(serving(c).warnings || [])].filter(Boolean);
    if (serving(c).meets_targets === false) said.unshift("misses the latency targets");
    if (serving(c).instances > 1) said.unshift(`${serving(c).instances} instances for the demand`);
    return [...new Set(said)].join("; ");
  };
  const money = (x) => (x === null || x === undefined ? "–" : x.toFixed(2));
  const fixed = (x) => (x === null || x === undefined ? "–" : x.toFixed(1));

  const COLUMNS = [
    ["instance", "Instance", (c) => c.instance || "(your GPUs)", false],
    ["gpus", "GPUs", (c) => `${c.gpu_count} × ${c.gpu}`, false],
    ["fits", "Fits", (c) => (c.fits ? "yes" : "no"), false],
    ["memory", "Memory per GPU", (c) => c.memory_per_gpu, (c) => c.memory_per_gpu_bytes],
    ["hour", "$ per hour", (c) => money(c.usd_per_hour), (c) => c.usd_per_hour],
    ["month", "$ per month", (c) => money(monthly(c)), monthly],
    ["million", "$ per 1M output tokens", (c) => money(serving(c).usd_per_million_output_tokens), (c) => serving(c).usd_per_million_output_tokens],
    ["ttft", "TTFT ms", (c) => fixed(serving(c).ttft_ms), (c) => serving(c).ttft_ms],
    ["tpot", "TPOT ms", (c) => fixed(serving(c).tpot_ms), (c) => serving(c).tpot_ms],
    ["why", "Why not, or notes", why, false],
  ];

  function sortedRows() {
    const col = COLUMNS.find((c) => c[0] === sort.key);
    if (!col || !col[3]) return rows;
    const value = col[3];
    return [...rows].sort((a, b) => {
      const x = value(a);
      const y = value(b);
      const xMissing = x === null || x === undefined;
      const yMissing = y === null || y === undefined;
      if (xMissing || yMissing) return xMissing - yMissing;
      return (x - y) * sort.dir;
    });
  }

  function candidateTable() {
    const table = el("table", { id: "candidates" });
    table.append(el("caption", { class: "visually-hidden" }, "Candidates: instance types and GPU sets"));
    const head = el("tr");
    for (const [key, label, , value] of COLUMNS) {
      const th = el("th", { scope: "col", class: value ? "num" : "" });
      if (value) {
        const button = el("button", { type: "button", "data-sort": key }, label);
        button.addEventListener("click", () => {
          sort = { key, dir: sort.key === key ? -sort.dir : 1 };
          $("table").replaceChildren(candidateTable());
          document.querySelector(`button[data-sort="${key}"]`).focus();
        });
        th.append(button);
        th.setAttribute("aria-sort", sort.key === key ? (sort.dir > 0 ? "ascending" : "descending") : "none");
      } else {
        th.textContent = label;
      }
      head.append(th);
    }
    const thead = el("thead");
    thead.append(head);
    table.append(thead);
    const tbody = el("tbody");
    for (const c of sortedRows()) {
      const tr = el("tr", { class: c.fits ? "fits" : "nofit" });
      for (const [key, , show, value] of COLUMNS) {
        const td = el("td", { class: value ? "num" : "", "data-col": key }, show(c));
        if (key === "fits") td.className = c.fits ? "fit-yes" : "fit-no";
        tr.append(td);
      }
      tbody.append(tr);
    }
    table.append(tbody);
    return table;
  }

  function renderPlan(answer) {
    rows = answer.candidates;
    sort = { key: null, dir: 1 };
    $("result-title").textContent = VIEWS.plan.title;
    const best = answer.cheapest;
    $("summary").replaceChildren(el("p", {}, answer.summary || ""),
      el("p", {}, best ? `Cheapest that fits: ${best.instance || best.gpu}, ${best.memory_per_gpu} per GPU.` : "Nothing fits."),
      el("p", { class: "hint" }, `Prices: ${answer.prices.source}, as of ${answer.prices.as_of}.`));
    $("bars").replaceChildren();
    $("table").replaceChildren(candidateTable());
    notes(answer.warnings);
  }

  function render(answer) {
    $("result").hidden = false;
    if (answer.candidates) renderPlan(answer);
    else renderMemory(answer);
  }

  async function copy(text, what) {
    $("curl").hidden = what !== "curl";
    try {
      await navigator.clipboard.writeText(text);
      $("status").textContent = `${what === "curl" ? "The curl command" : "The link"} is on the clipboard.`;
    } catch (e) {
      $("status").textContent = what === "curl" ? "The curl command is shown below." : `Link: ${text}`;
    }
  }

  async function start() {
    let models;
    let gpus;
    [options, models, gpus] = await Promise.all(
      [getJson("/api/config/options"), getJson("/api/models"), getJson("/api/gpus")]);
    const modelList = el("datalist", { id: "model-list" });
    for (const m of models.entries || models.models.map((name) => ({ name }))) {
      modelList.append(el("option", { value: m.name }));
      if (m.hf_repo) modelList.append(el("option", { value: m.hf_repo }));
    }
    const gpuList = el("datalist", { id: "gpu-list" });
    for (const g of gpus.gpus) gpuList.append(el("option", { value: g.name }));
    document.body.append(modelList, gpuList);
    const q = new URLSearchParams(location.search);
    const radios = [...document.querySelectorAll('input[name="view"]')];
    const sharedView = Object.hasOwn(VIEWS, q.get("view")) ? q.get("view") : null;
    if (sharedView) radios.find((r) => r.value === sharedView).checked = true;
    const values = sharedView ? Object.fromEntries(q) : EXAMPLE;
    buildFields(values);
    if (values.config) {
      $("config").value = values.config;
      $("config-box").open = true;
    }
    for (const radio of radios) {
      radio.addEventListener("change", () => {
        // The fields both views have keep what they hold (cleared ones stay clear);
        // the new view's own fields start from the example.
        const before = VIEWS[built].fields;
        const kept = formValues();
        const fresh = Object.fromEntries(Object.entries(EXAMPLE).filter(([k]) => !before.includes(k)));
        buildFields({ ...fresh, ...kept });
        $("result").hidden = true;
        clearErrors();
        // An answer still on its way belongs to the view left behind: drop it.
        const count = String(Number(document.body.dataset.requests || 0) + 1);
        document.body.dataset.requests = count;
        document.body.dataset.answered = count;
      });
    }
    $("form").addEventListener("submit", run);
    $("copy-curl").addEventListener("click", () => {
      try {
        $("curl").textContent = curlOf(VIEWS[view()].endpoint, bodyOf(formValues()));
      } catch (e) {
        showError("config", `config: not valid JSON (${e.message})`);
        return;
      }
      copy($("curl").textContent, "curl");
    });
    $("copy-link").addEventListener("click", () => {
      saveState(formValues());
      copy(location.href, "link");
    });
    document.body.dataset.ready = "true";
    if (sharedView) run();
  }

  start().catch((e) => {
    $("form-error").textContent = `The page could not load the API's options: ${e.message}`;
  });
})();
