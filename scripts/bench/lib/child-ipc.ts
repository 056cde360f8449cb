/**
 * The child side of `startChild`: answer the runner's commands, say when ready, and stop cleanly when
 * asked or when the runner is gone (IPC disconnect), so a benchmark process never outlives its run.
 */
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';

export type Handlers = Record<string, (args: any) => unknown>;

/**
 * CPU profile of a window of the child's life (not its start-up): `profile:start`, then `profile:stop`
 * with `{ file }` writes a `.cpuprofile` there (V8's sampling profiler, through the inspector).
 */
function profilerHandlers(): Handlers {
  let session: Session | undefined;
  return {
    'profile:start': async ({ intervalUs }: { intervalUs?: number } = {}) => {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      if (intervalUs) await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
      await session.post('Profiler.start');
    },
    'profile:stop': async ({ file }: { file: string }) => {
      if (!session) throw new Error('no profile running');
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      session = undefined;
      writeFileSync(file, JSON.stringify(profile));
      return file;
    },
  };
}

export function serveRunner(handlers: Handlers, stop: () => Promise<void>): void {
  const profiler = profilerHandlers();
  let stopping: Promise<void> | undefined;
  const exit = () => {
    stopping ??= stop()
      .catch((err: unknown) => console.error(`stop failed: ${(err as Error)?.message ?? err}`))
      .finally(() => process.exit(0));
  };
  process.on('disconnect', exit);
  process.on('SIGTERM', exit);
  process.on('SIGINT', exit);
  process.on('message', (msg: { id?: number; cmd?: string; args?: unknown }) => {
    if (msg?.cmd === 'stop') return exit();
    if (typeof msg?.id !== 'number' || !msg.cmd) return;
    const handler = handlers[msg.cmd] ?? profiler[msg.cmd];
    const id = msg.id;
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${msg.cmd}`);
        return handler(msg.args);
      })
      .then(
        (result) => process.send?.({ id, ok: true, result }),
        (error: unknown) => process.send?.({ id, ok: false, error: (error as Error)?.stack ?? String(error) }),
      );
  });
}

export function sendReady(info: Record<string, unknown> = {}): void {
  process.send?.({ type: 'ready', ...info });
}
