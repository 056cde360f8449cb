/**
 * The evaluator thread, as CommonJS source run with `new Worker(source, { eval: true })`: plain
 * JavaScript needs no TypeScript loader in the thread, and it only requires `jsonata` (by the path the
 * pool resolved). One evaluation at a time per thread, so the timebox state below is the evaluation's own.
 *
 * Protocol: the thread posts `{ ready: true }` once loaded; then for each `{ id, op, expression, input }`
 * (`op` 'compile' or 'evaluate', `input` a JSON text) it answers `{ id, json }` (the result as JSON text,
 * `null` for no result) or `{ id, error: { kind, message, code?, position?, token? } }`.
 *
 * Inside the thread, JSONata's evaluation hooks (`__evaluate_entry` / `__evaluate_exit`, the
 * "timeboxExpression" pattern of JSONata's documentation) stop evaluations that recurse too deep or run
 * too long. They cannot interrupt one long native call (a catastrophic regular expression): the pool's
 * hard deadline terminates such a thread.
 */
export const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const jsonata = require(workerData.jsonataPath);
const { timeoutMs, maxDepth, maxOutputBytes, cacheSize } = workerData;

let depth = 0;
let startedAt = 0;
function checkRunaway() {
  if (depth > maxDepth) throw { kind: 'depth', code: 'U1001', message: 'Recursion deeper than ' + maxDepth + ' levels: check for a non-terminating recursive function' };
  if (Date.now() - startedAt > timeoutMs) throw { kind: 'timeout', code: 'U1001', message: 'Evaluation took longer than ' + timeoutMs + ' ms: check for an infinite loop' };
}

/** Compiled expressions, least recently used first (a Map keeps insertion order). */
const compiled = new Map();
function compile(source) {
  let entry = compiled.get(source);
  if (entry) {
    compiled.delete(source);
    compiled.set(source, entry);
    return entry;
  }
  try {
    const expr = jsonata(source);
    expr.assign(Symbol.for('jsonata.__evaluate_entry'), function () {
      depth++;
      checkRunaway();
    });
    expr.assign(Symbol.for('jsonata.__evaluate_exit'), function () {
      depth--;
      checkRunaway();
    });
    entry = { expr };
  } catch (err) {
    entry = { error: describe(err, 'syntax') };
  }
  compiled.set(source, entry);
  if (compiled.size > cacheSize) compiled.delete(compiled.keys().next().value);
  return entry;
}

function describe(err, kind) {
  if (err instanceof RangeError) return { kind: kind === 'syntax' ? 'syntax' : 'depth', message: kind === 'syntax' ? 'The expression is nested too deeply' : 'Recursion too deep: ' + err.message };
  const info = { kind: err && typeof err.kind === 'string' ? err.kind : kind, message: String((err && err.message) || err) };
  if (err && typeof err.code === 'string') info.code = err.code;
  if (err && typeof err.position === 'number') info.position = err.position;
  if (err && err.token !== undefined && err.token !== null) info.token = String(err.token);
  return info;
}

async function evaluate(entry, inputJson) {
  const input = inputJson === undefined ? undefined : JSON.parse(inputJson);
  depth = 0;
  startedAt = Date.now();
  const result = await entry.expr.evaluate(input);
  let json;
  try {
    // A JSONata function (a lambda is a circular object) has no JSON form.
    json = result === undefined ? 'null' : JSON.stringify(result);
  } catch {
    json = undefined;
  }
  if (json === undefined) return { error: { kind: 'not-json', message: 'The expression returns a function or another value JSON cannot hold' } };
  const bytes = Buffer.byteLength(json);
  if (bytes > maxOutputBytes) return { error: { kind: 'output-too-large', message: 'The result is ' + bytes + ' bytes of JSON, more than the ' + maxOutputBytes + ' allowed' } };
  return { json };
}

parentPort.on('message', async (task) => {
  const entry = compile(task.expression);
  if (entry.error) return parentPort.postMessage({ id: task.id, error: entry.error });
  if (task.op === 'compile') return parentPort.postMessage({ id: task.id, json: 'null' });
  try {
    parentPort.postMessage({ id: task.id, ...(await evaluate(entry, task.input)) });
  } catch (err) {
    parentPort.postMessage({ id: task.id, error: describe(err, 'evaluation') });
  }
});
parentPort.postMessage({ ready: true });
`;
