// Preloaded (`node --import`) into a child server that takes only a port (server-everything's `app.listen(PORT)`):
// binds every port-only listen() to 127.0.0.1, and reports the port it got on stderr as
// `tollgate-test-listening PORT`, so PORT=0 lets the kernel pick a free one without a race.
import { Server } from 'node:net';

// eslint-disable-next-line @typescript-eslint/unbound-method -- re-applied below with the server as `this`
const listen = Server.prototype.listen;
Server.prototype.listen = function loopbackListen(this: Server, ...args: unknown[]): Server {
  const [port, host] = args;
  const portOnly = (typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port))) && typeof host !== 'string';
  if (portOnly) {
    args.splice(1, 0, '127.0.0.1');
    this.once('listening', () => {
      const addr = this.address();
      if (typeof addr === 'object' && addr !== null) process.stderr.write(`tollgate-test-listening ${addr.port}\n`);
    });
  }
  return (listen as (...a: unknown[]) => Server).apply(this, args);
} as typeof Server.prototype.listen;
