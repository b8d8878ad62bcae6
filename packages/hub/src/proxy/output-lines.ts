// eslint-disable-next-line no-control-regex
const ANSI_ESCAPE = /\x1b\[[0-9;]*m/g;

/**
 * Calls `onLine` for every non-blank line of a child's output stream, with ANSI colour codes
 * removed and trailing whitespace trimmed (CHP's winston logger colours its level names).
 * A last line without a newline is delivered when the stream ends.
 */
export function forwardLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let pending = '';
  const emit = (raw: string): void => {
    const line = raw.replace(ANSI_ESCAPE, '').trimEnd();
    if (line.trim()) onLine(line);
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) emit(line);
  });
  stream.on('end', () => emit(pending));
}
