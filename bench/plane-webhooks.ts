import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { signPlaneWebhook } from '../sandbox/plane/webhooks.ts';
import type { LoadRequest } from './load.ts';
import { WEBHOOK_SECRET, type Stack } from './stack.ts';

/** Marker in the captured body replaced by a per-request nonce, so every body (and its hash) differs. */
const NONCE = 'NONCE0000000000';

/**
 * A real Plane v1 "issue updated" body, as the sandbox's webhook sender renders it (Python
 * json.dumps spacing, expanded state and labels): an issue is edited in the sandbox store and the
 * delivery, sent to a throwaway local receiver, is read back from the sender's log.
 */
export async function captureWebhookBody(stack: Stack): Promise<string> {
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
  const { port } = receiver.address() as { port: number };
  const sender = stack.sandbox.planeWebhooks;
  const target = sender.register({ url: `http://127.0.0.1:${port}/capture`, secret: WEBHOOK_SECRET });
  try {
    const plane = stack.sandbox.plane;
    const { projectId, labels, states } = stack.project;
    const issue = plane.createAsPerson(projectId, { name: `Bench issue ${NONCE}`, labels: [labels.backend] });
    plane.editAsPerson(issue.id, { state: states['In Progress'] });
    await sender.drain();
    const body = sender.deliveries({ webhookId: target.id }).at(-1)?.body;
    if (!body?.includes(NONCE)) throw new Error('could not capture a Plane webhook body from the sandbox');
    return body;
  } finally {
    sender.unregister(target.id);
    receiver.close();
  }
}

/**
 * `count` deliveries of the captured body, each with its own nonce (`phase` keeps phases apart),
 * delivery id and signature, with the headers Plane sends.
 */
export function* signedWebhookRequests(template: string, phase: string, count: number): Generator<LoadRequest> {
  for (let i = 0; i < count; i++) {
    const body = template.replace(NONCE, `${phase}${String(i).padStart(NONCE.length - phase.length, '0')}`);
    yield {
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'Autopilot',
        'X-Plane-Delivery': randomUUID(),
        'X-Plane-Event': 'issue',
        'X-Plane-Signature': signPlaneWebhook(WEBHOOK_SECRET, body),
      },
      body,
    };
  }
}
