import { createServer, type Server } from 'node:http';

/**
 * Stands between the sandbox Plane's webhook sender and Trackline, so a test decides what
 * Trackline receives: deliveries are captured (and answered 200, so Plane never retries), then
 * forwarded on demand in any order, twice, late, or never.
 */
export interface CapturedWebhook {
  seq: number;
  headers: Record<string, string>;
  body: Buffer;
}

export async function startWebhookRelay() {
  const captured: CapturedWebhook[] = [];
  let seq = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
      captured.push({ seq: ++seq, headers, body: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/plane`,
    /** Deliveries captured and not yet taken. */
    take(): CapturedWebhook[] {
      return captured.splice(0, captured.length);
    },
    /** Sends one captured delivery to Trackline as Plane would have (same headers and bytes). */
    async forward(apiUrl: string, webhook: CapturedWebhook): Promise<number> {
      const headers = { ...webhook.headers };
      delete headers.host;
      delete headers.connection;
      const res = await fetch(`${apiUrl}/webhooks/plane-main`, {
        method: 'POST',
        headers,
        body: webhook.body,
        signal: AbortSignal.timeout(5_000),
      });
      await res.arrayBuffer();
      return res.status;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
