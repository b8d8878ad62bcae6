import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';

/**
 * Runs `code` on a kernel over its websocket (Jupyter messaging v5) and resolves with the text it
 * printed or returned. Fails after `timeoutMs`.
 */
export function executeOnKernel(wsUrl: string, headers: Record<string, string>, code: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers });
    const msgId = randomUUID();
    let output = '';
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no result from the kernel within ${timeoutMs} ms (got: ${output})`));
    }, timeoutMs);
    ws.on('open', () => {
      ws.send(JSON.stringify({
        header: { msg_id: msgId, username: 'test', session: randomUUID(), msg_type: 'execute_request', version: '5.3', date: new Date().toISOString() },
        parent_header: {}, metadata: {}, channel: 'shell',
        content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
      }));
    });
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { msg_type?: string; header?: { msg_type: string }; parent_header?: { msg_id?: string }; content?: Record<string, any> };
      if (msg.parent_header?.msg_id !== msgId) return;
      const type = msg.msg_type ?? msg.header?.msg_type;
      if (type === 'stream') output += msg.content?.text ?? '';
      if (type === 'execute_result') output += msg.content?.data?.['text/plain'] ?? '';
      if (type === 'error') output += `${msg.content?.ename}: ${msg.content?.evalue}`;
      if (type === 'status' && msg.content?.execution_state === 'idle') {
        clearTimeout(timer);
        ws.close();
        resolve(output);
      }
    });
    ws.on('error', (err) => (clearTimeout(timer), reject(err)));
  });
}
