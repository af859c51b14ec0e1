// A throwaway redis-server on loopback for tests: a free port, no persistence, killed by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';

export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

export function redisAvailable(): boolean {
  return existsSync(REDIS_SERVER_BIN);
}

export interface TestRedis {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly pid: number;
  /** SIGSTOP: the server keeps its socket open but answers nothing ("slow"). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Stops the server ("down"); start() brings a fresh one up on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good. */
  kill(): Promise<void>;
  output(): string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => { resolve(port); });
    });
  });
}

/** Sends PING and waits for +PONG, or rejects after `ms`. */
export async function ping(port: number, ms = 500): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('ping timed out')); }, ms);
    sock.once('error', (err) => { clearTimeout(timer); reject(err); });
    sock.once('connect', () => { sock.write('PING\r\n'); });
    sock.once('data', (b: Buffer) => {
      clearTimeout(timer);
      sock.destroy();
      if (b.toString('utf8').startsWith('+PONG')) resolve();
      else reject(new Error(`unexpected reply ${JSON.stringify(b.toString('utf8'))}`));
    });
  });
}

/** Starts redis-server on 127.0.0.1 and a free port; resolves once it answers PING. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let out = '';
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const c = spawn(REDIS_SERVER_BIN, [
      '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--protected-mode', 'yes',
      '--daemonize', 'no', '--loglevel', 'warning', '--dir', '/tmp',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    c.stderr.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    exited = new Promise((resolve) => { c.once('exit', () => { resolve(); }); });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}:\n${out}`);
      try {
        await ping(port, 200);
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on ${port}:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };

  const stop = async (): Promise<void> => {
    const c = child;
    if (c?.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
    process.kill(c.pid, 'SIGCONT');
    process.kill(c.pid, 'SIGKILL');
    await exited;
    child = undefined;
  };

  /** Signals the server if it is running; a no-op once it has exited. */
  const signal = (sig: NodeJS.Signals): void => {
    const c = child;
    if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, sig);
  };

  await launch();
  return {
    host: '127.0.0.1',
    port,
    get pid() { return child?.pid ?? -1; },
    pause: () => { signal('SIGSTOP'); },
    resume: () => { signal('SIGCONT'); },
    stop,
    start: launch,
    kill: stop,
    output: () => out,
  };
}
