import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, listensOn } from './support/child-process.js';

/**
 * The test servers' start-up (test/support/child-process.ts) counts a server as ready only when the process it
 * spawned listens on the port itself: a free port can be picked by two test files at once, and while the one
 * that loses the bind is exiting, a readiness probe on the port is answered by the other file's server.
 */
describe('which process listens on a port', () => {
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    port = await freePort();
    server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('when this process listens on a port, then it holds the port and a child process it spawned does not', () => {
    expect(listensOn(process.pid, port)).toBe(true);
    // A child that answers nothing: the port is still served (by this process), but not by the child.
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      expect(child.pid).toBeDefined();
      expect(listensOn(child.pid as number, port)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('when a child process listens on a port, then the child holds it and so does its parent chain from here', async () => {
    const childPort = await freePort();
    const child = spawn(
      process.execPath,
      ['-e', `require('node:net').createServer().listen(${childPort}, '127.0.0.1', () => console.log('up'))`],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    try {
      await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
      expect(listensOn(child.pid as number, childPort)).toBe(true);
      // Descendants count: this process (the child's parent) is credited with what its child holds.
      expect(listensOn(process.pid, childPort)).toBe(true);
      expect(listensOn(child.pid as number, port)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
