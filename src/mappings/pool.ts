import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { AppError, RetriableError } from '../errors.js';
import type { Logger } from '../platform/logger.js';
import { MappingError, type JsonataErrorInfo } from './errors.js';
import { WORKER_SOURCE } from './worker-source.js';

/** The longest expression accepted, in bytes of UTF-8. */
export const MAX_EXPRESSION_BYTES = 16 * 1024;
/** Evaluation depth (JSONata's nested evaluations) past which an expression is stopped as runaway recursion. */
export const MAX_EVALUATION_DEPTH = 1000;
/** Compiled expressions each thread keeps. */
const COMPILED_PER_THREAD = 200;
/** Evaluations waiting for a thread; past it the pool refuses more until some finish. */
const MAX_QUEUED = 10_000;
/** A thread's heap: an expression building a huge value fails there, not in the process. */
const THREAD_HEAP_MB = 64;

export interface MapperLimits {
  /** Time one evaluation may take (MAPPING_TIMEOUT_MS). */
  timeoutMs: number;
  /** Largest result, measured on its JSON (MAPPING_MAX_OUTPUT_BYTES). */
  maxOutputBytes: number;
  /** Evaluator threads (MAPPING_THREADS). */
  threads: number;
}

/**
 * Evaluates tenants' JSONata expressions safely: a small pool of worker threads, started on first use,
 * each evaluating one expression at a time under the limits above. A thread still busy after its hard
 * deadline (stuck in one native call, such as a catastrophic regular expression) is terminated and
 * replaced, and that evaluation fails with a `timeout` MappingError. Created with the ServiceContext
 * (`ctx.mapper`), closed with it.
 */
export interface Mapper {
  /** The expression's result for `input` (a JSON value; `null` when the expression selects nothing), or a MappingError. */
  evaluate(expression: string, input: unknown): Promise<unknown>;
  /** Resolves when the expression compiles; a `syntax` (or `expression-too-long`) MappingError otherwise. */
  compile(expression: string): Promise<void>;
  readonly limits: Readonly<MapperLimits>;
  /** Terminates the threads; waiting and later evaluations fail. */
  close(): Promise<void>;
}

interface Task {
  id: number;
  op: 'compile' | 'evaluate';
  expression: string;
  input?: string;
  resolve(json: string): void;
  reject(err: Error): void;
}

interface Thread {
  worker: Worker;
  ready: boolean;
  task?: Task;
  deadline?: NodeJS.Timeout;
  gone: boolean;
}

type Reply = { ready: true } | { id: number; json: string } | { id: number; error: JsonataErrorInfo };

/** The grace after the time limit before a thread is stopped: the hooks usually end an overrun first, with a clearer message. */
const hardDeadlineMs = (timeoutMs: number) => timeoutMs + Math.max(100, timeoutMs);

export function createMapperPool(limits: MapperLimits, logger?: Logger): Mapper {
  const jsonataPath = createRequire(import.meta.url).resolve('jsonata');
  const queue: Task[] = [];
  const threads = new Set<Thread>();
  let nextId = 1;
  let closed = false;
  let startFailures = 0;

  const spawn = (): void => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // No loader hooks and no environment (secrets) in the thread.
      execArgv: [],
      env: {},
      workerData: { jsonataPath, timeoutMs: limits.timeoutMs, maxDepth: MAX_EVALUATION_DEPTH, maxOutputBytes: limits.maxOutputBytes, cacheSize: COMPILED_PER_THREAD },
      resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB, maxYoungGenerationSizeMb: 16 },
    });
    // An idle pool never keeps the process alive; an evaluation in flight does, through its deadline timer.
    worker.unref();
    const thread: Thread = { worker, ready: false, gone: false };
    threads.add(thread);
    worker.on('message', (reply: Reply) => onReply(thread, reply));
    worker.on('error', (err: Error & { code?: string }) => {
      const kind = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'resources' : 'evaluation';
      retire(thread, new MappingError({ kind, message: kind === 'resources' ? 'The evaluation ran out of memory' : `The evaluator failed: ${err.message}` }));
    });
    worker.on('exit', () => retire(thread, new MappingError({ kind: 'resources', message: 'The evaluator stopped during the evaluation' })));
  };

  /** A thread that ended (or was stopped): its evaluation fails with `reason`, and another thread takes the queue. */
  const retire = (thread: Thread, reason: Error): void => {
    if (thread.gone) return;
    thread.gone = true;
    threads.delete(thread);
    clearTimeout(thread.deadline);
    if (thread.task) thread.task.reject(reason);
    thread.task = undefined;
    if (!thread.ready && ++startFailures >= 3) {
      // Threads that die before loading will not load next time either (jsonata missing, no memory).
      for (const task of queue.splice(0)) task.reject(new AppError(`The mapping evaluator cannot start: ${reason.message}`));
      startFailures = 0;
      return;
    }
    pump();
  };

  const onReply = (thread: Thread, reply: Reply): void => {
    if (thread.gone) return;
    if ('ready' in reply) {
      thread.ready = true;
      startFailures = 0;
      return pump();
    }
    const task = thread.task;
    if (!task || task.id !== reply.id) return;
    clearTimeout(thread.deadline);
    thread.task = undefined;
    if ('error' in reply) task.reject(new MappingError(reply.error));
    else task.resolve(reply.json);
    pump();
  };

  const pump = (): void => {
    if (closed) return;
    for (const thread of threads) {
      if (queue.length === 0) return;
      if (!thread.ready || thread.task) continue;
      const task = queue.shift() as Task;
      thread.task = task;
      thread.deadline = setTimeout(() => {
        // Timers run before messages: after a busy stretch of this process the thread's answer may be
        // waiting already. setImmediate runs after they are read, so only a thread really still busy is stopped.
        setImmediate(() => {
          if (thread.task !== task || thread.gone) return;
          logger?.warn({ timeoutMs: limits.timeoutMs }, 'a mapping evaluation overran its deadline; its thread was stopped');
          retire(thread, new MappingError({ kind: 'timeout', message: `Evaluation took longer than ${limits.timeoutMs} ms and was stopped` }));
          void thread.worker.terminate();
        });
      }, hardDeadlineMs(limits.timeoutMs));
      thread.worker.postMessage({ id: task.id, op: task.op, expression: task.expression, input: task.input });
    }
    // What is still queued waits for threads being started (each takes one when ready) or new ones.
    const starting = [...threads].filter((t) => !t.ready).length;
    const more = Math.min(limits.threads - threads.size, queue.length - starting);
    for (let i = 0; i < more; i++) spawn();
  };

  const submit = (op: Task['op'], expression: string, input?: string): Promise<string> => {
    if (closed) return Promise.reject(new AppError('The mapping evaluator is closed'));
    const bytes = Buffer.byteLength(expression);
    if (bytes > MAX_EXPRESSION_BYTES)
      return Promise.reject(new MappingError({ kind: 'expression-too-long', message: `The expression is ${bytes} bytes long, more than the ${MAX_EXPRESSION_BYTES} allowed` }));
    if (queue.length >= MAX_QUEUED) return Promise.reject(new RetriableError('Too many mapping evaluations are waiting; try again shortly'));
    return new Promise<string>((resolve, reject) => {
      queue.push({ id: nextId++, op, expression, ...(input === undefined ? {} : { input }), resolve, reject });
      pump();
    });
  };

  return {
    limits: { ...limits },
    async evaluate(expression, input) {
      return JSON.parse(await submit('evaluate', expression, input === undefined ? undefined : JSON.stringify(input))) as unknown;
    },
    async compile(expression) {
      await submit('compile', expression);
    },
    async close() {
      closed = true;
      for (const task of queue.splice(0)) task.reject(new AppError('The mapping evaluator is closed'));
      const stopping = [...threads].map((thread) => {
        retire(thread, new AppError('The mapping evaluator is closed'));
        return thread.worker.terminate();
      });
      await Promise.allSettled(stopping);
    },
  };
}
