// Browser test of the cluster view (issue 9): starts mlsched-extender on the demo cluster, makes
// a planned gang (GPUs reserved), a waiting gang (with its reason) and a pipeline with a pending
// step, loads the page in Debian's headless chromium (playwright-core) and checks what a person
// would look for. Then the same page on a generated 5,000-node cluster: prints the JSON sizes and
// the render time (printed, not asserted). Every server is started here, on 127.0.0.1, and
// stopped at the end; every wait is bounded.
//   node cluster_view_test.mjs --extender PATH [--screenshot FILE] [--nodes N]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = { extender: '', screenshot: '', nodes: 5000 };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in args) || i + 1 >= process.argv.length) {
    console.error('usage: cluster_view_test.mjs --extender PATH [--screenshot FILE] [--nodes N]');
    process.exit(2);
  }
  args[k] = k === 'nodes' ? Number(process.argv[i + 1]) : process.argv[i + 1];
}
if (!args.extender) {
  console.error('--extender PATH is required');
  process.exit(2);
}

let passed = 0;
let failed = 0;
function check(cond, what, detail) {
  if (cond) {
    passed++;
    console.log('ok   ' + what);
  } else {
    failed++;
    console.log('FAIL ' + what + (detail !== undefined ? ': ' + JSON.stringify(detail) : ''));
  }
}

const children = [];
const scratch = mkdtempSync(join(tmpdir(), 'mlsched-ui-'));

// Starts the extender on free ports; resolves with them once it says where it serves.
function startExtender(clusterFile) {
  return new Promise((ok, fail) => {
    const p = spawn(resolve(args.extender), ['--cluster-file', clusterFile, '--port', '0',
                                             '--debug-port', '0'], { cwd: root });
    children.push(p);
    let log = '';
    const timer = setTimeout(() => fail(new Error('extender did not start in 60 s:\n' + log)), 60000);
    p.stderr.on('data', (d) => {
      log += d;
      const m = /serving the extender on 127\.0\.0\.1:(\d+).*explain view on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        ok({ proc: p, port: Number(m[1]), debug: Number(m[2]), log: () => log });
      }
    });
    p.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error('extender exited with ' + code + ':\n' + log));
    });
  });
}

// SIGTERM, then the exit code (a sanitizer report or a crash at shutdown is not 0).
async function stop(p) {
  if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
  const done = new Promise((r) => p.once('exit', (code) => r(code)));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 15000);
  const code = await done;
  clearTimeout(t);
  return code;
}

async function post(port, verb, body) {
  const r = await fetch(`http://127.0.0.1:${port}/${verb}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  if (r.status !== 200) throw new Error(`${verb}: HTTP ${r.status}: ${await r.text()}`);
  return r.json();
}

async function getView(debug, path) {
  const t0 = performance.now();
  const r = await fetch(`http://127.0.0.1:${debug}${path}`, { signal: AbortSignal.timeout(30000) });
  const text = await r.text();
  return { status: r.status, ms: performance.now() - t0, bytes: text.length, json: JSON.parse(text) };
}

function pod({ name, ns = 'ml', gpus = 0, cpu = '4', annotations = {}, labels = {} }) {
  const requests = { cpu, memory: '16Gi' };
  if (gpus) requests['nvidia.com/gpu'] = String(gpus);
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: ns, uid: 'ui-test-' + ns + '-' + name, annotations, labels,
                creationTimestamp: '2026-11-28T12:00:00Z' },
    spec: {
      schedulerName: 'mlsched',
      containers: [{ name: 'main', image: 'registry.example.com/ml/train:1',
                     resources: { requests, limits: gpus ? { 'nvidia.com/gpu': String(gpus) } : {} } }],
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    },
    status: { phase: 'Pending' },
  };
}

const browserArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                     '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function openBrowser(name) {
  const ctx = await chromium.launchPersistentContext(join(scratch, 'profile-' + name), {
    executablePath: '/usr/bin/chromium', headless: true, args: browserArgs,
    viewport: { width: 1440, height: 1000 }, timeout: 60000,
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(20000);
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('requestfailed', (r) => problems.push('request failed: ' + r.url()));
  return { ctx, page, problems };
}

// ---- Part 1: the demo cluster with a waiting gang ----

async function demo() {
  const ext = await startExtender('deploy/demo/cluster.yaml');
  const reqDir = join(root, 'deploy/demo/requests');
  const read = (f) => JSON.parse(readFileSync(join(reqDir, f), 'utf8'));
  const nodeNames = read('filter-notebook-alice.json').NodeNames;

  // ml/llama-pretrain (4 x 8 GPUs) is planned as a whole: its GPUs are reserved.
  for (const m of ['master-0', 'worker-0', 'worker-1', 'worker-2']) {
    const r = await post(ext.port, 'filter', read(`filter-llama-pretrain-${m}.json`));
    check(r.NodeNames && r.NodeNames.length === 1, `llama-pretrain-${m} passes its planned node`, r);
  }
  // ml/bert-large (6 x 8 GPUs) cannot fit beside it: it waits, holding nothing.
  for (let i = 0; i < 6; i++) {
    const p = pod({ name: `bert-large-${i}`, gpus: 8, cpu: '16',
                    annotations: { 'mlsched.io/gang': 'bert-large', 'mlsched.io/gang-size': '6' } });
    const r = await post(ext.port, 'filter', { Pod: p, NodeNames: nodeNames });
    check(!r.NodeNames || r.NodeNames.length === 0, `bert-large-${i} passes no node`, r.NodeNames);
  }
  // A pipeline: step prep ran (bound), step train is pending and steered to prep's node.
  const prep = pod({ name: 'etl-prep', gpus: 1,
                     annotations: { 'mlsched.io/pipeline': 'etl-nightly', 'mlsched.io/step': 'prep' } });
  const pr = await post(ext.port, 'filter', { Pod: prep, NodeNames: nodeNames });
  const prepNode = pr.NodeNames[0];
  await post(ext.port, 'prioritize', { Pod: prep, NodeNames: nodeNames });
  const b = await post(ext.port, 'bind', { PodName: 'etl-prep', PodNamespace: 'ml',
                                           PodUID: prep.metadata.uid, Node: prepNode });
  check(!b.Error, 'etl-prep is bound', b);
  const train = pod({ name: 'etl-train', gpus: 1,
                      annotations: { 'mlsched.io/pipeline': 'etl-nightly', 'mlsched.io/step': 'train',
                                     'mlsched.io/after': 'prep' } });
  await post(ext.port, 'filter', { Pod: train, NodeNames: nodeNames });

  // What the JSON says, to compare the page with.
  const gangs = (await getView(ext.debug, '/debug/view/gangs')).json.gangs;
  const bert = gangs.find((g) => g.gang === 'ml/bert-large');
  const llama = gangs.find((g) => g.gang === 'ml/llama-pretrain');
  check(bert && bert.state === 'waiting' && bert.reason.length > 0, 'JSON: bert-large waits with a reason', bert);
  check(llama && llama.state === 'planned' && llama.reserved_gpus === 32, 'JSON: llama-pretrain planned, 32 GPUs reserved', llama);
  const summary = (await getView(ext.debug, '/debug/view/summary')).json;
  check(summary.cluster.reserved === 32, 'JSON: 32 GPUs reserved in the cluster', summary.cluster);
  const bad = await getView(ext.debug, '/debug/view/nodes?offset=-1');
  check(bad.status === 400 && /offset/.test(bad.json.error), 'JSON: a bad offset is a 400 naming it', bad.json);

  const { ctx, page, problems } = await openBrowser('demo');
  try {
    const resp = await page.goto(`http://127.0.0.1:${ext.debug}/`);
    check(resp.status() === 200, 'the page loads from the debug port');
    check(/default-src 'none'/.test(resp.headers()['content-security-policy'] || ''),
          'the page is served with a strict Content-Security-Policy');
    const card = page.locator('.gang[data-gang="ml/bert-large"]');
    await card.waitFor();
    check((await card.locator('.state').textContent()) === 'waiting', 'bert-large is shown waiting');
    const reason = await card.locator('.reason').textContent();
    check(reason === bert.reason, 'bert-large shows its reason in words', reason);
    check(/0\/6 bound/.test(await card.locator('.members').textContent()), 'bert-large shows 0/6 bound');
    const lcard = page.locator('.gang[data-gang="ml/llama-pretrain"]');
    check((await lcard.locator('.state').textContent()) === 'planned', 'llama-pretrain is shown planned');
    check(/32 GPUs reserved/.test(await lcard.locator('.meta').textContent()), 'llama-pretrain shows 32 GPUs reserved');

    // The map: every rack of 16 nodes is open; the reserved GPUs are cells of their own.
    await page.locator('#map .node').first().waitFor();
    check(await page.locator('#map .node').count() === 16, 'the map shows the 16 nodes');
    check(await page.locator('#map .domain.leaf').count() === 4, 'the map shows 4 racks');
    check(await page.locator('#map .cell.resv').count() === 32, 'the map shows 32 reserved GPU cells');
    check(await page.locator('#map .cell.used').count() === summary.cluster.used, 'the map shows the used GPUs',
          summary.cluster.used);
    check((await page.locator('#total-reserved').textContent()) === '32', 'the totals say 32 reserved');

    // Selecting the planned gang highlights its plan on the map.
    await lcard.click();
    await page.locator('#map .node.plan').first().waitFor();
    check(await page.locator('#map .node.plan').count() === 4, 'selecting llama-pretrain outlines its 4 nodes');
    check(await page.locator('#map .cell.resv.hl').count() === 32, 'and highlights its 32 reserved GPUs');
    check(await lcard.locator('.plan-table tr').count() === 5, 'and lists its 4 members with their nodes');

    // Pipelines and the service.
    const runs = page.locator('#pipelines .run[data-run="ml/etl-nightly"]');
    await runs.waitFor();
    const runText = await runs.textContent();
    check(runText.includes('prep ran on ' + prepNode), 'the pipeline shows where prep ran', runText);
    check(runText.includes('train') && runText.includes('steered to ' + prepNode),
          'the pipeline shows train steered to prep\'s node', runText);
    const filterRow = page.locator('#service tr[data-verb="filter"] td');
    check(Number(await filterRow.nth(3).textContent()) >= 12, 'the service counts the filter requests');
    check(/embedded cluster file/.test(await page.locator('#service .api').textContent()), 'the service shows the model source');

    // Live refresh: a gang created now appears without reloading (bounded wait).
    const tiny = pod({ name: 'tiny-0', gpus: 1,
                       annotations: { 'mlsched.io/gang': 'tiny', 'mlsched.io/gang-size': '3' } });
    await post(ext.port, 'filter', { Pod: tiny, NodeNames: nodeNames });
    await page.locator('.gang[data-gang="ml/tiny"] .reason').waitFor({ timeout: 15000 });
    check(true, 'a new waiting gang appears by polling');

    // The screenshot for the README: the waiting gang's reason and the planned gang's plan.
    if (args.screenshot) {
      await page.locator('#f-pause').check();
      mkdirSync(dirname(resolve(args.screenshot)), { recursive: true });
      await page.screenshot({ path: args.screenshot, fullPage: true });
      console.log('screenshot: ' + args.screenshot);
      await page.locator('#f-pause').uncheck();
    }

    // Filters: zone-b only.
    await page.selectOption('#f-zone', 'zone-b');
    await page.waitForFunction(() => document.querySelectorAll('#map .node').length === 8);
    check(await page.locator('#map .domain.level-1').count() === 1, 'the zone filter keeps one zone');
    await page.selectOption('#f-zone', '');
    await page.selectOption('#f-model', 'NVIDIA-H100-80GB-HBM3');
    await page.waitForFunction(() => document.querySelectorAll('#map .node').length === 12);
    check(true, 'the GPU model filter keeps the 12 GPU nodes');

    const m = await page.evaluate(() => window.mlschedView);
    console.log(`demo cluster: render ${m.lastRenderMs.toFixed(1)} ms, poll ${m.lastPollMs.toFixed(1)} ms (${m.renders} renders)`);
    check(problems.length === 0, 'no console error, page error or failed request', problems);
  } finally {
    await ctx.close();
    const code = await stop(ext.proc);
    check(code === 0, 'the extender stops cleanly', code);
  }
}

// ---- Part 2: 5,000 nodes ----

function bigCluster(n) {
  const items = [];
  const perRack = 25;
  for (let i = 0; i < n; i++) {
    const rack = Math.floor(i / perRack);
    const block = Math.floor(rack / 10);
    const zone = Math.floor(block / 5);
    const gpus = i % 10 === 9 ? 0 : 8;
    const name = 'node-' + String(i).padStart(5, '0');
    const labels = {
      'kubernetes.io/hostname': name, 'topology.kubernetes.io/region': 'region-1',
      'topology.kubernetes.io/zone': 'zone-' + zone, 'mlsched.io/block': 'block-' + block,
      'mlsched.io/rack': 'rack-' + rack,
    };
    if (gpus) labels['nvidia.com/gpu.product'] = i % 3 ? 'NVIDIA-H100-80GB-HBM3' : 'NVIDIA-A100-SXM4-80GB';
    const alloc = { cpu: '96', memory: '1000Gi', pods: '110' };
    if (gpus) alloc['nvidia.com/gpu'] = String(gpus);
    items.push({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels },
                 spec: i % 97 === 0 ? { unschedulable: true } : {},
                 status: { allocatable: alloc, capacity: alloc,
                           conditions: [{ type: 'Ready', status: 'True' }] } });
  }
  for (let i = 0; i < n; i += 2) {  // half the GPU nodes half used
    if (i % 10 === 9) continue;
    items.push({ apiVersion: 'v1', kind: 'Pod',
                 metadata: { name: 'job-' + i, namespace: 'ml', uid: 'big-' + i },
                 spec: { nodeName: 'node-' + String(i).padStart(5, '0'),
                         containers: [{ name: 'm', resources: { requests: { cpu: '8', 'nvidia.com/gpu': '4' } } }] },
                 status: { phase: 'Running' } });
  }
  return { apiVersion: 'v1', kind: 'List', items };
}

async function scale() {
  const file = join(scratch, 'cluster-' + args.nodes + '.json');
  writeFileSync(file, JSON.stringify(bigCluster(args.nodes)));
  const ext = await startExtender(file);
  // A waiting gang, so the gang list is not empty.
  const names = Array.from({ length: args.nodes }, (_, i) => 'node-' + String(i).padStart(5, '0'));
  await post(ext.port, 'filter', { Pod: pod({ name: 'big-0', gpus: 8, annotations: {
    'mlsched.io/gang': 'big', 'mlsched.io/gang-size': '4' } }), NodeNames: names });
  for (const path of ['/debug/view/summary', '/debug/view/gangs', '/debug/view/service',
                      '/debug/view/nodes?rack=rack-7&limit=5000', '/debug/view/nodes?limit=5000']) {
    const v = await getView(ext.debug, path);
    console.log(`${args.nodes} nodes: GET ${path}: ${v.bytes} bytes in ${v.ms.toFixed(1)} ms (over HTTP, from node)`);
  }
  const { ctx, page, problems } = await openBrowser('scale');
  try {
    const t0 = Date.now();
    await page.goto(`http://127.0.0.1:${ext.debug}/`);
    await page.locator('#map .domain.leaf').first().waitFor({ timeout: 30000 });
    const loaded = Date.now() - t0;
    const racks = await page.locator('#map .domain.leaf').count();
    check(racks === Math.ceil(args.nodes / 25), `${args.nodes} nodes: the map shows every rack`, racks);
    check(await page.locator('#map .node').count() === 0, `${args.nodes} nodes: racks start closed (no node detail fetched)`);
    let m = await page.evaluate(() => window.mlschedView);
    console.log(`${args.nodes} nodes: first paint ${loaded} ms after navigation; render ${m.lastRenderMs.toFixed(1)} ms, poll ${m.lastPollMs.toFixed(1)} ms`);
    await page.locator('#map .domain.leaf').nth(7).locator('.title').click();
    await page.waitForFunction(() => document.querySelectorAll('#map .node').length === 25);
    check(true, `${args.nodes} nodes: opening a rack shows its 25 nodes`);
    m = await page.evaluate(() => window.mlschedView);
    console.log(`${args.nodes} nodes, one rack open: render ${m.lastRenderMs.toFixed(1)} ms, poll ${m.lastPollMs.toFixed(1)} ms`);
    check(problems.length === 0, `${args.nodes} nodes: no console error, page error or failed request`, problems);
  } finally {
    await ctx.close();
    const code = await stop(ext.proc);
    check(code === 0, `${args.nodes} nodes: the extender stops cleanly`, code);
  }
}

try {
  await demo();
  if (args.nodes > 0) await scale();
} catch (e) {
  failed++;
  console.log('FAIL ' + (e.stack || e));
} finally {
  for (const p of children) await stop(p);
  rmSync(scratch, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
