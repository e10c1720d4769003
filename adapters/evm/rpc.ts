/**
 * JSON-RPC with retries. Transport failures and node overload are retried with exponential backoff and jitter;
 * anything the node answered deliberately (a revert, a bad parameter) is not, and surfaces as a typed ChainError.
 */
import type { Hex } from '../../proofs/bytes.js';
import { ChainError } from '../../proofs/errors.js';

/** A log as `eth_getLogs` and receipts return it (quantities as hex strings). */
export interface RpcLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  transactionHash: Hex;
  logIndex: string;
  removed?: boolean;
}

export interface RpcOptions {
  retries?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
  onError?: (err: ChainError) => void;
}

interface JsonRpcResponse {
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** Strips credentials from a URL before it goes into an error message or a log. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

export class JsonRpcClient {
  private nextId = 1;
  readonly url: string;
  private readonly retries: number;
  private readonly baseDelayMs: number;
  private readonly timeoutMs: number;
  private readonly onError?: (err: ChainError) => void;

  constructor(url: string, opts: RpcOptions = {}) {
    this.url = url;
    this.retries = opts.retries ?? 5;
    this.baseDelayMs = opts.baseDelayMs ?? 200;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.onError = opts.onError;
  }

  async call<T = unknown>(method: string, params: unknown[]): Promise<T> {
    let attempt = 0;
    for (;;) {
      try {
        return (await this.once(method, params)) as T;
      } catch (err) {
        const e =
          err instanceof ChainError
            ? err
            : new ChainError('MR_ERR_RPC_TRANSPORT', `${method} to ${redactUrl(this.url)} failed`, {
                cause: err,
                retryable: true,
              });
        this.onError?.(e);
        if (!e.retryable || attempt >= this.retries) throw e;
        const delay = this.baseDelayMs * 2 ** attempt * (0.75 + Math.random() * 0.5);
        attempt++;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async once(method: string, params: unknown[]): Promise<unknown> {
    const id = this.nextId++;
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (res.status === 429 || res.status >= 500) {
      throw new ChainError(
        'MR_ERR_RPC_UNAVAILABLE',
        `${method}: HTTP ${res.status} from ${redactUrl(this.url)}`,
        {
          retryable: true,
        },
      );
    }
    if (!res.ok) {
      throw new ChainError('MR_ERR_RPC_HTTP', `${method}: HTTP ${res.status} from ${redactUrl(this.url)}`);
    }
    const body = (await res.json()) as JsonRpcResponse;
    if (body.error) {
      const retryable =
        body.error.code === -32005 || /timeout|rate|busy|header not found/i.test(body.error.message);
      throw new ChainError('MR_ERR_RPC_ERROR', `${method}: ${body.error.message}`, {
        retryable,
        details: {
          rpcCode: body.error.code,
          data: typeof body.error.data === 'string' ? body.error.data : undefined,
        },
      });
    }
    return body.result;
  }
}
