import { connect, type Socket as NetSocket } from 'node:net';

/**
 * A minimal HTTP/1.1 keep-alive client connection for the load generator (bench/http-load.ts): one request at a
 * time, responses framed by `content-length` or chunked transfer coding (compressed responses come chunked),
 * bodies skipped. It does only what a closed-loop GET needs, so its CPU per request is a fraction of
 * node:http's and the server, not the client, sets the pace. Nagle is off.
 */
export class Socket {
  readonly #socket: NetSocket;
  #buf: Buffer = Buffer.alloc(0);
  #waiting: { resolve: (status: number) => void; reject: (err: Error) => void } | undefined;
  #status = 0;
  /** Body bytes still to skip (content-length), or -1 while reading chunk sizes, or -2 before the head. */
  #remaining = -2;
  #chunked = false;
  /** The connection failed or was closed; the pool opens a new one for the next run. */
  closed = false;
  readonly ready: Promise<void>;

  constructor(host: string, port: number) {
    this.#socket = connect({ host, port, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.#socket.once('connect', () => resolve());
      this.#socket.once('error', reject);
    });
    this.#socket.on('data', (data: Buffer) => this.#onData(data));
    const fail = (err: Error) => {
      this.closed = true;
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.reject(err);
    };
    this.#socket.on('error', fail);
    this.#socket.on('close', () => fail(new Error('connection closed')));
  }

  /** Sends `request` (a whole GET) and resolves with the response's status once its body has been read. */
  exchange(request: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#buf = Buffer.alloc(0);
      this.#remaining = -2;
      this.#socket.write(request);
    });
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(data: Buffer): void {
    this.#buf = this.#buf.length === 0 ? data : Buffer.concat([this.#buf, data]);
    for (;;) {
      if (this.#remaining === -2) {
        const end = this.#buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = this.#buf.toString('latin1', 0, end);
        this.#buf = this.#buf.subarray(end + 4);
        this.#status = Number(head.slice(9, 12));
        this.#chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
        this.#remaining = this.#chunked ? -1 : Number(length ?? 0);
        continue;
      }
      if (this.#remaining === -1) {
        const eol = this.#buf.indexOf('\r\n');
        if (eol < 0) return;
        const size = parseInt(this.#buf.toString('latin1', 0, eol), 16);
        if (size === 0) {
          // The last chunk, then (no trailers from our servers) the blank line.
          if (this.#buf.length < eol + 4) return;
          this.#buf = this.#buf.subarray(eol + 4);
          this.#done();
          return;
        }
        // The chunk's data and its CRLF.
        this.#buf = this.#buf.subarray(eol + 2);
        this.#remaining = size + 2;
        continue;
      }
      const take = Math.min(this.#remaining, this.#buf.length);
      this.#remaining -= take;
      this.#buf = this.#buf.subarray(take);
      if (this.#remaining > 0) return;
      if (this.#chunked) {
        this.#remaining = -1;
        continue;
      }
      this.#done();
      return;
    }
  }

  #done(): void {
    const w = this.#waiting;
    this.#waiting = undefined;
    this.#remaining = -2;
    w?.resolve(this.#status);
  }
}

/** Keep-alive connections per origin, kept between runs so successive rounds reuse them. */
export class ConnectionPool {
  readonly #byOrigin = new Map<string, Socket[]>();

  /** `n` connected sockets to `url`'s origin (opened as needed; closed ones replaced). */
  async sockets(url: URL, n: number): Promise<Socket[]> {
    const list = (this.#byOrigin.get(url.origin) ?? []).filter((s) => !s.closed);
    this.#byOrigin.set(url.origin, list);
    while (list.length < n) list.push(new Socket(url.hostname, Number(url.port)));
    await Promise.all(list.map((s) => s.ready));
    return list.slice(0, n);
  }

  close(): void {
    for (const list of this.#byOrigin.values()) for (const s of list) s.destroy();
    this.#byOrigin.clear();
  }
}
