// The mlsched cluster view: polls /debug/view/* every 2 s and redraws what changed.
// Plain DOM, no framework, no external asset. The topology comes summarised per domain
// (/debug/view/summary); node detail is fetched only for the racks that are open, so a poll on
// 5,000 nodes stays small. Every value from the cluster is set as text, never parsed as HTML.
'use strict';

const POLL_MS = 2000;
const AUTO_OPEN_NODES = 300;  // open every rack when the selection has at most this many nodes

const state = {
  summary: null,
  gangs: null,
  pipelines: null,
  service: null,
  nodes: new Map(),        // leaf path -> [node]
  open: new Set(),         // leaf paths opened by a click
  closed: new Set(),       // leaf paths closed by a click (wins over auto-open)
  selected: '',            // "ns/gang"
  filters: {},             // level name or "model" -> value
  mapKey: '',              // what the map was last drawn from
  timer: 0,
};
// Read by the browser test: how long the last full redraw took.
window.mlschedView = { renders: 0, lastRenderMs: 0, lastPollMs: 0, errors: 0 };

// ---- DOM helpers ----

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'data') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : v);
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function gangColor(gang) {
  let x = 0;
  for (let i = 0; i < gang.length; i++) x = (x * 31 + gang.charCodeAt(i)) >>> 0;
  return 'g' + (x % 8);
}

function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }

// ---- Fetching ----

function query(extra) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filters)) if (v) p.set(k, v);
  for (const [k, v] of Object.entries(extra || {})) if (v !== undefined && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? '?' + s : '';
}

async function getJson(path) {
  const r = await fetch(path, { cache: 'no-store' });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error(path + ': ' + (body && body.error ? body.error : 'HTTP ' + r.status));
  return body;
}

function leaves(tree, out) {
  for (const d of tree) {
    if (d.children) leaves(d.children, out);
    else out.push(d);
  }
  return out;
}

function isOpen(leaf) {
  if (state.closed.has(leaf.path)) return false;
  if (state.open.has(leaf.path)) return true;
  if (state.summary && state.summary.selected.nodes <= AUTO_OPEN_NODES) return true;
  return planPaths().has(leaf.path);
}

function selectedGang() {
  if (!state.selected || !state.gangs) return null;
  return state.gangs.gangs.find((g) => g.gang === state.selected) || null;
}

function planPaths() {
  const g = selectedGang();
  return new Set(g ? g.plan.filter((m) => m.path).map((m) => m.path) : []);
}

async function poll() {
  const t0 = performance.now();
  try {
    const [summary, gangs, pipelines, service] = await Promise.all([
      getJson('/debug/view/summary' + query()),
      getJson('/debug/view/gangs'),
      getJson('/debug/view/pipelines'),
      getJson('/debug/view/service'),
    ]);
    state.summary = summary;
    state.gangs = gangs;
    state.pipelines = pipelines;
    state.service = service;
    if (state.selected && !gangs.gangs.some((g) => g.gang === state.selected)) state.selected = '';
    const open = leaves(summary.tree, []).filter(isOpen).map((d) => d.path);
    state.nodes = new Map();
    if (open.length) {
      const nodes = await getJson('/debug/view/nodes' +
                                  query({ domains: open.join(','), limit: 5000 }));
      for (const n of nodes.nodes) {
        if (!state.nodes.has(n.path)) state.nodes.set(n.path, []);
        state.nodes.get(n.path).push(n);
      }
    }
    window.mlschedView.lastPollMs = performance.now() - t0;
    render();
    setStatus('updated ' + new Date().toLocaleTimeString() + ' · poll ' +
              Math.round(window.mlschedView.lastPollMs) + ' ms · render ' +
              window.mlschedView.lastRenderMs.toFixed(1) + ' ms', false);
  } catch (e) {
    window.mlschedView.errors++;
    setStatus('cannot reach mlsched: ' + e.message + ' (retrying)', true);
  }
}

function schedule() {
  clearTimeout(state.timer);
  if (!document.getElementById('f-pause').checked) state.timer = setTimeout(tick, POLL_MS);
}

async function tick() {
  await poll();
  schedule();
}

function setStatus(text, error) {
  const s = document.getElementById('status');
  s.textContent = text;
  s.classList.toggle('error', error);
}

// ---- Rendering ----

function render() {
  const t0 = performance.now();
  renderFilters();
  renderTotals();
  renderMap();
  renderGangs();
  renderPipelines();
  renderService();
  window.mlschedView.lastRenderMs = performance.now() - t0;
  window.mlschedView.renders++;
}

function renderFilters() {
  const s = state.summary;
  const box = document.getElementById('level-filters');
  const key = JSON.stringify(s.levels.map((l) => [l.name, l.values]));
  if (box.dataset.key !== key) {
    box.dataset.key = key;
    box.replaceChildren(...s.levels.map((l) => {
      const sel = h('select', { id: 'f-' + l.name, name: l.name, 'aria-label': l.name },
                    h('option', { value: '', text: 'all' }),
                    ...l.values.map((v) => h('option', { value: v, text: v })));
      sel.value = state.filters[l.name] || '';
      return h('label', null, l.name + ' ', sel);
    }));
  }
  const model = document.getElementById('f-model');
  const mkey = JSON.stringify(s.models.map((m) => m.model));
  if (model.dataset.key !== mkey) {
    model.dataset.key = mkey;
    model.replaceChildren(h('option', { value: '', text: 'all' }),
                          ...s.models.map((m) => h('option', { value: m.model, text: m.model })));
    model.value = state.filters.model || '';
  }
}

function renderTotals() {
  const c = state.summary.selected;
  const all = state.summary.cluster;
  const g = state.summary.gangs;
  const filtered = c.nodes !== all.nodes;
  document.getElementById('totals').replaceChildren(
    h('span', null, h('b', { text: plural(c.nodes, 'node') }), filtered ? ' of ' + all.nodes : ''),
    h('span', null, h('b', { text: c.gpus }), ' GPUs'),
    h('span', null, h('b', { text: c.free }), ' free'),
    h('span', null, h('b', { text: c.used }), ' used'),
    h('span', null, h('b', { id: 'total-reserved', text: c.reserved }), ' reserved'),
    h('span', null, h('b', { text: c.unavailable }), ' unavailable'),
    h('span', null, 'gangs: ' + g.waiting + ' waiting, ' + g.planned + ' planned, ' + g.binding +
      ' binding, ' + g.running + ' running'));
}

function bar(d) {
  const b = h('div', { class: 'bar', title: d.free + ' free, ' + d.used + ' used, ' + d.reserved +
                       ' reserved, ' + d.unavailable + ' unavailable of ' + d.gpus + ' GPUs' });
  const parts = [['used', d.used, 'used']];
  for (const [gang, gpus] of Object.entries(d.reserved_by_gang)) {
    parts.push(['resv ' + gangColor(gang), gpus, gang]);
  }
  parts.push(['unav', d.unavailable, 'unavailable'], ['free', d.free, 'free']);
  for (const [cls, n] of parts) {
    if (n <= 0) continue;
    const s = h('span', { class: cls });
    s.style.flexGrow = n;  // CSSOM, allowed by the page's Content-Security-Policy
    b.append(s);
  }
  return b;
}

function nodeBox(n, plan, gang) {
  const box = h('div', { class: 'node' + (n.schedulable ? '' : ' down') + (plan ? ' plan' : ''),
                         title: n.name + ' · ' + n.model + (n.schedulable ? '' : ' · not schedulable'),
                         data: { node: n.name } },
                h('div', { class: 'name', text: n.name }));
  if (n.gpus === 0) {
    box.append(h('div', { class: 'cpu', text: 'CPU only' }));
    return box;
  }
  const cells = h('div', { class: 'cells' });
  const add = (cls, title) => cells.append(h('i', { class: 'cell ' + cls, title }));
  for (let i = 0; i < n.used; i++) add('used', 'used by a pod');
  for (const r of n.reserved_by_gang) {
    for (let i = 0; i < r.gpus; i++) {
      add('resv ' + gangColor(r.gang) + (r.gang === gang ? ' hl' : ''), 'reserved for gang ' + r.gang);
    }
  }
  // Reserved GPUs not attributed to a gang (should not happen; drawn rather than hidden).
  const attributed = n.reserved_by_gang.reduce((a, r) => a + r.gpus, 0);
  for (let i = attributed; i < n.reserved; i++) add('resv', 'reserved');
  for (let i = 0; i < n.unavailable; i++) add('unav', 'unavailable: node not schedulable');
  for (let i = 0; i < n.free; i++) add('free', 'free');
  box.append(cells);
  return box;
}

function domainBox(d, levels, plan, gang) {
  const level = levels[d.level];
  const leaf = !d.children;
  const open = leaf && isOpen(d);
  const inPlan = gang && [...plan].some((p) => p === d.path || p.startsWith(d.path + '/'));
  const box = h('div', {
    class: 'domain level-' + d.level + (leaf ? ' leaf' : '') + (open ? ' open' : '') +
           (gang && !inPlan ? ' dim' : ''),
    data: { path: d.path },
  }, h('div', { class: 'title', data: leaf ? { toggle: d.path } : undefined,
                 tabindex: leaf ? 0 : undefined, role: leaf ? 'button' : undefined,
                 'aria-expanded': leaf ? String(open) : undefined },
       h('span', { class: 'kind', text: level ? level.name : '' }),
       h('span', { class: 'dname', text: d.name }),
       h('span', { class: 'num', text: d.free + '/' + d.gpus + ' free · ' + plural(d.nodes, 'node') })),
  bar(d));
  if (!leaf) {
    box.append(h('div', { class: 'children' }, ...d.children.map((c) => domainBox(c, levels, plan, gang))));
  } else if (open) {
    const nodes = state.nodes.get(d.path) || [];
    const g = selectedGang();
    const planNodes = new Set(g ? g.plan.map((m) => m.node) : []);
    box.append(h('div', { class: 'nodes' }, ...nodes.map((n) => nodeBox(n, planNodes.has(n.name), gang))));
  }
  return box;
}

function renderMap() {
  const s = state.summary;
  const key = JSON.stringify([s.tree, [...state.nodes], state.selected, [...state.open], [...state.closed]]);
  if (key === state.mapKey) return;  // nothing changed: keep the DOM (and the scroll position)
  state.mapKey = key;
  const map = document.getElementById('map');
  const plan = planPaths();
  const gang = state.selected;
  if (!s.tree.length) {
    map.replaceChildren(h('p', { class: 'empty', text: 'no node matches the filters' }));
    return;
  }
  map.replaceChildren(...s.tree.map((d) => domainBox(d, s.levels, plan, gang)));
}

function renderGangs() {
  const box = document.getElementById('gangs');
  const gangs = state.gangs.gangs;
  if (!gangs.length) {
    box.replaceChildren(h('p', { class: 'empty', text: 'no gangs' }));
    return;
  }
  box.replaceChildren(...gangs.map((g) => {
    const selected = g.gang === state.selected;
    const card = h('div', { class: 'gang ' + g.state + (selected ? ' selected' : ''),
                            data: { gang: g.gang }, tabindex: 0, role: 'button',
                            'aria-pressed': selected ? 'true' : 'false' },
      h('div', { class: 'head' },
        h('span', { class: 'state ' + g.state, text: g.state }),
        h('span', { class: 'name', text: g.gang }),
        h('span', { class: 'members', title: 'members bound of minMember (members seen)',
                    text: g.bound + '/' + g.min_member + ' bound' +
                          (g.members !== g.min_member ? ' (' + g.members + ' seen)' : '') })),
      g.reason ? h('div', { class: 'reason', text: g.reason }) : null,
      h('div', { class: 'meta', text: g.source +
        (g.reserved_gpus ? ' · ' + g.reserved_gpus + ' GPUs reserved' : '') +
        (g.domains.length ? ' · in ' + g.domains.join(', ') : '') }));
    if (g.reserved_gpus) card.querySelector('.meta').prepend(h('i', { class: 'cell resv ' + gangColor(g.gang) }), ' ');
    if (selected) {
      const rows = g.plan.map((m) => h('tr', null,
        h('td', { text: m.pod || '(unknown pod)' }),
        h('td', { text: m.node || '—' }),
        h('td', { text: m.bound ? 'bound' : m.waiting_bind ? 'waiting at the barrier' : m.node ? 'planned' : 'no node' })));
      card.append(h('table', { class: 'plan-table' },
        h('tr', null, h('th', { text: 'member' }), h('th', { text: 'node' }), h('th', { text: '' })), ...rows));
    }
    return card;
  }), state.gangs.total > gangs.length ?
      h('p', { class: 'empty', text: (state.gangs.total - gangs.length) + ' more not shown' }) : '');
}

function ago(s) {
  if (s === null || s === undefined) return '';
  if (s < 120) return s + ' s ago';
  if (s < 7200) return Math.round(s / 60) + ' min ago';
  return Math.round(s / 3600) + ' h ago';
}

function renderPipelines() {
  const box = document.getElementById('pipelines');
  const runs = state.pipelines.runs;
  if (!runs.length) {
    box.replaceChildren(h('p', { class: 'empty', text: 'no pipeline runs seen' }));
    return;
  }
  box.replaceChildren(...runs.map((r) => h('div', { class: 'run', data: { run: r.run } },
    h('div', null, h('b', { text: r.run }), ' ',
      h('span', { class: 'meta', text: plural(r.steps.length, 'step') + (r.idle_seconds !== null ? ', last ' + ago(r.idle_seconds) : '') })),
    h('div', { class: 'steps' },
      ...r.steps.map((s) => h('div', null, s.step + ' ran on ' + s.node + ' (' + ago(s.seconds_ago) + ')')),
      ...r.pending.map((p) => h('div', { class: 'steer' },
        'next: ' + p.step + ' → ' + (p.steered_to.length ? 'steered to ' + p.steered_to.join(', ') +
          ' (' + (p.after.length ? 'data of ' + p.after.join(', ') + '; ' : '') +
          (p.locality === 'none' ? 'no locality' : p.locality + ' locality') + (p.required ? ', required' : '') + ')'
          : 'no predecessor recorded: placed on merit')))))));
}

function spark(values) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 150 22');
  svg.setAttribute('preserveAspectRatio', 'none');
  const max = Math.max(...values, 1e-9);
  const step = values.length > 1 ? 150 / (values.length - 1) : 0;
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', values.map((v, i) => (i * step).toFixed(1) + ',' + (21 - (v / max) * 20).toFixed(1)).join(' '));
  svg.append(line);
  return svg;
}

function renderService() {
  const s = state.service;
  const minutes = (s.slot_seconds * (s.verbs[0] ? s.verbs[0].slots.length : 0)) / 60;
  const rows = s.verbs.map((v) => h('tr', { data: { verb: v.verb } },
    h('td', { text: v.verb }),
    h('td', { class: 'n', text: v.window.rate.toFixed(2) }),
    h('td', { class: 'n', text: v.slots.length ? v.slots[v.slots.length - 1].rate.toFixed(2) : '0' }),
    h('td', { class: 'n', text: v.window.count }),
    h('td', { class: 'n', text: v.window.errors }),
    h('td', { class: 'n', text: v.window.p50_ms.toFixed(2) }),
    h('td', { class: 'n', text: v.window.p99_ms.toFixed(2) }),
    h('td', { class: 'n', text: v.window.max_ms.toFixed(2) }),
    h('td', null, spark(v.slots.map((x) => x.rate)))));
  const a = s.api;
  const m = s.model;
  const api = a.source === 'api-server'
    ? h('span', null, 'API server ' + a.detail + ': ',
        h('span', { class: a.synced ? 'good' : 'bad', text: a.synced ? 'synced' : 'not synced' }), ', ',
        h('span', { class: a.connected ? 'good' : 'bad', text: a.connected ? 'watching' : 'disconnected' }),
        ' · last contact ' + (a.seconds_since_last_contact < 0 ? 'never' : a.seconds_since_last_contact.toFixed(1) + ' s ago') +
        ' · ' + a.events_applied + ' events, ' + a.relists + ' relists, ' + a.watch_restarts +
        ' watch restarts, ' + a.errors + ' errors' + (a.pod_groups_known ? '' : ' · no PodGroup CRD') +
        (a.last_error ? ' · last error: ' + a.last_error : ''))
    : a.source === 'cluster-file'
      ? h('span', null, 'embedded cluster file ' + a.detail + ' (no API server)')
      : h('span', { class: 'empty', text: 'API watch state unknown' });
  document.getElementById('service').replaceChildren(
    h('table', null,
      h('tr', null, ...['verb', 'req/s (' + minutes + ' min)', 'req/s (now)', 'requests', 'errors',
                        'p50 ms', 'p99 ms', 'max ms', 'req/s over ' + minutes + ' min']
        .map((t) => h('th', { text: t }))),
      ...rows),
    h('div', { class: 'api' }, api),
    h('div', { class: 'meta', text: 'model: ' + m.nodes + ' nodes, ' + m.pods + ' pods (' + m.bound_pods +
      ' bound, ' + m.assumed_pods + ' assumed), ' + m.gangs + ' gangs (' + m.gangs_waiting + ' waiting), ' +
      m.reservations + ' reservations, ' + m.waiting_binds + ' binds at a barrier, ' + m.pipeline_runs + ' pipeline runs' }));
}

// ---- Events ----

function init() {
  const toggle = (e) => {
    if (e.type === 'keydown' && e.key !== 'Enter' && e.key !== ' ') return;
    const t = e.target.closest('[data-toggle]');
    const leaf = e.target.closest('.domain.leaf');
    const path = t ? t.dataset.toggle : leaf && !leaf.classList.contains('open') ? leaf.dataset.path : null;
    if (path === null || path === undefined) return;
    e.preventDefault();
    const nowOpen = leaf.classList.contains('open');
    (nowOpen ? state.open : state.closed).delete(path);
    (nowOpen ? state.closed : state.open).add(path);
    poll();
  };
  const map = document.getElementById('map');
  map.addEventListener('click', toggle);
  map.addEventListener('keydown', toggle);
  const pick = (e) => {
    const card = e.target.closest('.gang');
    if (!card || (e.type === 'keydown' && e.key !== 'Enter' && e.key !== ' ')) return;
    e.preventDefault();
    state.selected = state.selected === card.dataset.gang ? '' : card.dataset.gang;
    poll();
  };
  const gangs = document.getElementById('gangs');
  gangs.addEventListener('click', pick);
  gangs.addEventListener('keydown', pick);
  document.getElementById('filters').addEventListener('change', (e) => {
    if (e.target.id === 'f-pause') { schedule(); return; }
    if (e.target.name) state.filters[e.target.name] = e.target.value;
    state.open.clear();
    state.closed.clear();
    poll();
  });
  document.getElementById('filters').addEventListener('submit', (e) => e.preventDefault());
  tick();
}

init();
