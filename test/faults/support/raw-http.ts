import { connect } from 'node:net';

/**
 * One HTTP/1.1 request written byte for byte on a fresh TCP connection. fetch() and http.request
 * validate what they send (header characters, lengths, encodings); bad-input testing needs to send
 * exactly the bytes a broken or hostile client would.
 */
export interface RawRequest {
  method: string;
  path: string;
  /** Header lines as sent; values may hold any bytes but CR and LF. */
  headers: Array<[string, string | Buffer]>;
  body: Buffer;
  /** Content-Length to declare: the body's length unless given; 'none' sends no such header. */
  contentLength?: number | 'none';
  /** Close our sending side right after the body (a client that gives up part-way). */
  halfClose?: boolean;
}

export interface RawAnswer {
  /** The status line's code; null when the server closed without answering. */
  status: number | null;
  headers: Record<string, string>;
  body: string;
  /** The server neither answered nor closed within the deadline: a hang. */
  timedOut: boolean;
  ms: number;
}

export function sendRaw(port: number, request: RawRequest, timeoutMs = 5_000): Promise<RawAnswer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parse(Buffer.concat(chunks)), timedOut, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('end', () => finish(false));
    socket.on('close', () => finish(false));
    // A reset after the server answered (it refuses to read the rest of a big body) still counts
    // as answered: what was received is parsed.
    socket.on('error', () => finish(false));
    socket.on('connect', () => {
      const lines: Buffer[] = [
        Buffer.from(`${request.method} ${request.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`, 'latin1'),
      ];
      for (const [name, value] of request.headers)
        lines.push(
          Buffer.concat([
            Buffer.from(`${name}: `, 'latin1'),
            Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1'),
            Buffer.from('\r\n'),
          ]),
        );
      const length = request.contentLength ?? request.body.length;
      if (length !== 'none') lines.push(Buffer.from(`Content-Length: ${length}\r\n`));
      lines.push(Buffer.from('\r\n'));
      socket.write(Buffer.concat([...lines, request.body]));
      if (request.halfClose) socket.end();
    });
  });
}

function parse(raw: Buffer): Omit<RawAnswer, 'timedOut' | 'ms'> {
  const text = raw.toString('latin1');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (!match) return { status: null, headers: {}, body: '' };
  const [head, ...rest] = text.split('\r\n\r\n');
  const headers: Record<string, string> = {};
  for (const line of head!.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(match[1]), headers, body: rest.join('\r\n\r\n') };
}
