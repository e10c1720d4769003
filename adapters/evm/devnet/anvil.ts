/**
 * Starts and stops anvil processes from the npm `@foundry-rs/anvil` package (its binary ships inside the
 * platform package, so nothing is downloaded). One process per chain, each with its own chain id and port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ChainError } from '../../../proofs/errors.js';

export interface AnvilOptions {
  chainId: number;
  port: number;
  /** Interval mining in seconds (fractions allowed); undefined = automine (a block per transaction). */
  blockTime?: number;
  host?: string;
  accounts?: number;
  mnemonic?: string;
}

export interface AnvilHandle {
  readonly rpcUrl: string;
  readonly chainId: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

/** Path of the anvil binary inside the platform-specific package. */
export function anvilBinary(): string {
  const platform = process.platform === 'win32' ? 'win32' : process.platform;
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const pkg = `@foundry-rs/anvil-${platform}-${arch}`;
  try {
    const pkgJson = require.resolve(`${pkg}/package.json`);
    return join(dirname(pkgJson), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
  } catch (cause) {
    throw new ChainError(
      'MR_ERR_ANVIL_MISSING',
      `anvil binary package ${pkg} is not installed; run npm install`,
      {
        cause,
      },
    );
  }
}

async function rpcReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      });
      if (res.ok) return;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new ChainError('MR_ERR_ANVIL_START', `anvil at ${url} did not answer within ${timeoutMs} ms`, {
    cause: lastErr,
  });
}

export async function startAnvil(opts: AnvilOptions): Promise<AnvilHandle> {
  const host = opts.host ?? '127.0.0.1';
  const args = [
    '--chain-id',
    String(opts.chainId),
    '--port',
    String(opts.port),
    '--host',
    host,
    '--accounts',
    String(opts.accounts ?? 10),
    '--silent',
  ];
  if (opts.blockTime !== undefined) args.push('--block-time', String(opts.blockTime));
  if (opts.mnemonic) args.push('--mnemonic', opts.mnemonic);
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const rpcUrl = `http://${host}:${opts.port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await Promise.race([
      rpcReady(rpcUrl, 15_000),
      exited.then(() => {
        throw new ChainError(
          'MR_ERR_ANVIL_START',
          `anvil exited at start (port ${opts.port} in use?): ${stderr}`,
        );
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { rpcUrl, chainId: opts.chainId, process: child, stop };
}

/** A free TCP port on loopback, for tests that must not collide. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
