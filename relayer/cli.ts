#!/usr/bin/env node
/**
 * medrelay command line.
 *
 *   medrelay start  --config <file>          run the relayer (API, metrics, pipelines) until SIGTERM/SIGINT
 *   medrelay status --config <file>          per channel: sent / received / acknowledged, from chain state
 *   medrelay reset  --config <file> --yes    delete this relayer's Redis keys (its prefix only)
 *   medrelay settlement reconcile --config <file> [--json]
 *                                            settlement ledgers per channel and currency; exit 1 on a violation
 *   medrelay settlement pacs <uetr> --type 008|002|004 --config <file> [--json]
 *                                            a payment's ISO 20022 message (XML, or JSON with --json)
 *
 * A user mistake prints one line with its error code and exits 1; it never prints a stack trace.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { MedrelayError } from '../proofs/errors.js';
import { createLogger } from './logger.js';
import { assertRedisReachable, connectRedis, deleteKeysByPrefix } from './redis.js';
import { startService } from './service.js';
import { settlementCommand } from './settlement/cli.js';

const USAGE = `usage: medrelay <start|status|reset> --config <file> [--yes]
       medrelay settlement reconcile --config <file> [--json]
       medrelay settlement pacs <uetr> --type 008|002|004 --config <file> [--json]`;

function fail(message: string, code = 1): never {
  process.stderr.write(`medrelay: ${message}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      yes: { type: 'boolean' },
      json: { type: 'boolean' },
      type: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.config) fail(`--config <file> is required\n${USAGE}`, 2);
  const config = loadConfig(values.config);

  switch (cmd) {
    case 'start': {
      const log = createLogger({});
      const svc = await startService({ config, log });
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down: finishing running jobs');
        svc.stop().then(
          () => process.exit(0),
          (err) => {
            log.error({ err: (err as Error).message }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      return;
    }
    case 'status': {
      const { EvmAdapter } = await import('../adapters/evm/adapter.js');
      const byName = new Map(config.chains.map((c) => [c.name, c]));
      for (const ch of config.channels) {
        const mk = (name: string) => {
          const c = byName.get(name)!;
          // Status only reads; any key is fine for an adapter that never signs.
          return new EvmAdapter({
            name: c.name,
            chainId: BigInt(c.chainId),
            rpcUrl: c.rpcUrl,
            privateKey: `0x${'11'.repeat(32)}`,
            contracts: { outbox: c.contracts.outbox, inbox: c.contracts.inbox, lightClients: {} },
          });
        };
        const src = mk(ch.source);
        const dst = mk(ch.destination);
        const id = ch.id as `0x${string}`;
        const sent = (await src.nextSequence(id)) - 1n;
        const received = (await dst.nextRecv(id)) - 1n;
        const acked = await src.ackedUpTo(id);
        process.stdout.write(
          `${ch.name}: sent ${sent}, received ${received}, acknowledged/timed out ${acked}, in flight ${sent - acked}\n`,
        );
      }
      return;
    }
    case 'settlement': {
      process.exitCode = await settlementCommand(config, positionals.slice(1), {
        json: values.json ?? false,
        ...(values.type === undefined ? {} : { type: values.type }),
        out: (text) => process.stdout.write(text),
      });
      return;
    }
    case 'reset': {
      if (!values.yes)
        fail(`reset deletes every Redis key under "${config.relayer.keyPrefix}:"; add --yes to confirm`, 2);
      await assertRedisReachable(config.relayer.redisUrl);
      const redis = connectRedis(config.relayer.redisUrl);
      const n = await deleteKeysByPrefix(redis, config.relayer.keyPrefix);
      redis.disconnect();
      process.stdout.write(`deleted ${n} key(s) under ${config.relayer.keyPrefix}:\n`);
      return;
    }
    default:
      fail(`unknown command "${cmd}"\n${USAGE}`, 2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof MedrelayError) fail(`${err.code}: ${err.message}`);
  if (err instanceof TypeError && /parseArgs|Unknown option/i.test(String(err.message)))
    fail(`${err.message}\n${USAGE}`, 2);
  // No stack trace for users; MEDRELAY_DEBUG=1 shows it when reporting a bug.
  fail(
    `unexpected error: ${process.env.MEDRELAY_DEBUG ? ((err as Error)?.stack ?? String(err)) : err instanceof Error ? err.message : String(err)}`,
  );
});
