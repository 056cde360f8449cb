import { Writable } from 'node:stream';

export interface CapturedLogs {
  stream: Writable;
  lines: string[];
  text(): string;
}

/** A pino destination that keeps every line, so tests can search logs (for secrets, too). */
export function captureLogs(): CapturedLogs {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines, text: () => lines.join('\n') };
}
