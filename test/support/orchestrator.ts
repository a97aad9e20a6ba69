import { createServer, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';

export const ORCHESTRATOR_SECRET = 'whsec_' + Buffer.from('trackline-test-orchestrator-secret').toString('base64');

export interface ReceivedCallback {
  headers: Record<string, string>;
  body: {
    id: string;
    type: string;
    key: string;
    connection: string;
    fields: Record<string, { from: unknown; to: unknown }>;
    comment: string | null;
    actor: string | null;
  };
  verified: boolean;
}

/**
 * A stand-in orchestrator: receives Trackline's callbacks, checks each signature with the
 * Standard Webhooks library (as a real receiver would), and answers what the test says.
 */
export async function startOrchestrator() {
  const received: ReceivedCallback[] = [];
  let answer = 204;
  const verifier = new Webhook(ORCHESTRATOR_SECRET);
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let verified = false;
      try {
        verifier.verify(raw, headers);
        verified = true;
      } catch {
        verified = false;
      }
      received.push({ headers, body: JSON.parse(raw), verified });
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/trackline`,
    received,
    answerWith(status: number) {
      answer = status;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
