/**
 * `medrelay settlement …` (relayer/cli.ts dispatches here):
 *   reconcile [--json]                  the reconciliation report as tables (or JSON); exit 1 on a violation
 *   pacs <uetr> --type 008|002|004 [--json]
 *                                       a payment's ISO 20022 message, XML (or JSON)
 * Reads the chains with their own JSON-RPC clients (no key, no Redis). Errors print one line `MR_ERR_…: message`
 * and exit 1; usage mistakes exit 2; never a stack trace.
 */
import { JsonRpcClient } from '../../adapters/evm/rpc.js';
import type { MedrelayConfig } from '../../config/schema.js';
import { MedrelayError } from '../../proofs/errors.js';
import { toXml } from '../../proofs/settlement/iso20022.js';
import type { ReconcileReport } from '../../proofs/settlement/reconcile.js';
import { settlementTopology } from './chains.js';
import { SettlementError } from './errors.js';
import { type SettlementQueries, settlementQueries } from './index.js';
import { amountJson } from './json.js';
import { PACS_TYPES, type PacsType } from './pacs.js';
import { reconciliationJson } from './reconciliation.js';
import { parseUetr } from './uetr.js';

export const SETTLEMENT_USAGE = `usage: medrelay settlement reconcile --config <file> [--json]
       medrelay settlement pacs <uetr> --type 008|002|004 --config <file> [--json]`;

export interface SettlementCommandOptions {
  json: boolean;
  type?: string;
  out: (text: string) => void;
  /** @defaultValue writes to stderr */
  err?: (text: string) => void;
  /** Tests pass a fake; by default built from the config. */
  queries?: SettlementQueries;
}

/**
 * Runs one settlement subcommand; returns the exit code (0 ok, 1 failure or violated invariant, 2 usage).
 *
 * @example await settlementCommand(config, ['pacs', uetr], { json: false, type: '008', out: console.log })
 */
export async function settlementCommand(
  config: MedrelayConfig,
  args: readonly string[],
  opts: SettlementCommandOptions,
): Promise<number> {
  const err = opts.err ?? ((t: string) => process.stderr.write(t));
  const usage = (message: string): number => {
    err(`medrelay: ${message}\n${SETTLEMENT_USAGE}\n`);
    return 2;
  };
  const [sub, ...rest] = args;
  if (sub !== 'reconcile' && sub !== 'pacs')
    return usage(
      sub === undefined ? 'settlement needs a subcommand' : `unknown settlement subcommand "${sub}"`,
    );
  if (sub === 'reconcile' && rest.length > 0) return usage(`unexpected argument "${rest[0]}"`);
  let type: PacsType | undefined;
  if (sub === 'pacs') {
    if (rest.length !== 1) return usage('settlement pacs takes exactly one UETR');
    if (!(PACS_TYPES as readonly string[]).includes(opts.type ?? ''))
      return usage(`--type must be one of ${PACS_TYPES.join(', ')}`);
    type = opts.type as PacsType;
  }
  try {
    const queries = opts.queries ?? queriesOf(config);
    if (sub === 'reconcile') {
      const report = await queries.reconciliation();
      opts.out(
        opts.json ? `${JSON.stringify(reconciliationJson(report), null, 2)}\n` : reconciliationText(report),
      );
      return report.ok ? 0 : 1;
    }
    const uetr = parseUetr(rest[0]!).text;
    const msg = await queries.message(uetr, type!);
    opts.out(opts.json ? `${JSON.stringify(msg, null, 2)}\n` : `${toXml(msg)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof MedrelayError) err(`medrelay: ${e.code}: ${e.message}\n`);
    else err(`medrelay: unexpected error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

function queriesOf(config: MedrelayConfig): SettlementQueries {
  const topology = settlementTopology(config, (c) => new JsonRpcClient(c.rpcUrl, { retries: 2 }));
  if (!topology)
    throw new SettlementError(
      'MR_ERR_SETTLEMENT_NOT_CONFIGURED',
      'no chain in the config has contracts.settlementGateway; nothing to read',
    );
  return settlementQueries(topology);
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The report as text: one table per channel and currency, one per gateway, then the violations. */
export function reconciliationText(r: ReconcileReport): string {
  const v = (cur: Parameters<typeof amountJson>[0], n: bigint | undefined) =>
    n === undefined ? '-' : amountJson(cur, n).value;
  const out: string[] = [];
  out.push(
    r.rows.length === 0
      ? 'no settlement channel has moved money yet'
      : table(
          ['channel', 'ccy', 'locked', 'released', 'refunded', 'in flight', 'dest received', 'unacked', 'ok'],
          r.rows.map((row) => [
            row.name ?? row.channel,
            row.currency,
            v(row.currency, row.source.locked),
            v(row.currency, row.source.released),
            v(row.currency, row.source.refunded),
            v(row.currency, row.source.inFlight),
            v(row.currency, row.destination?.receivedSource),
            v(row.currency, row.unacknowledged),
            row.ok ? 'ok' : 'VIOLATED',
          ]),
        ),
  );
  if (r.gateways.length > 0)
    out.push(
      table(
        ['gateway', 'ccy', 'escrowed', 'Σ in flight', 'token balance', 'ok'],
        r.gateways.map((g) => [
          g.chain,
          g.currency,
          v(g.currency, g.escrowed),
          v(g.currency, g.inFlight),
          v(g.currency, g.balance),
          g.ok ? 'ok' : 'VIOLATED',
        ]),
      ),
    );
  out.push(
    r.ok
      ? 'reconciled: every invariant holds'
      : `${r.violations.length} violation(s):\n${r.violations.map((x) => `  ${x.invariant}: ${x.message}`).join('\n')}`,
  );
  return `${out.join('\n\n')}\n`;
}
