/**
 * Reconciliation of the settlement ledgers on chain (DESIGN §6): for every configured channel whose two ends have a
 * SettlementGateway, per currency (CNY, HKD, MOP), read the source ledger, the destination ledger, the source
 * gateway's escrow and token balance, and check them with proofs/settlement/reconcile.ts.
 *
 * A (channel, currency) is reported when it has moved money, or when the channel is the source gateway's route to
 * the destination and the source has a deposit token of that currency (a live lane with nothing sent yet).
 * Each chain is read at one pinned block; destinations are read before and after the sources (see
 * `readReconciliation`), so a payment crossing between the reads never shows as a violation or hides one.
 */
import { CURRENCIES, type Currency } from '../../proofs/settlement/money.js';
import {
  type ReconcileChannel,
  type ReconcileGateway,
  type ReconcileReport,
  reconcile,
} from '../../proofs/settlement/reconcile.js';
import { type AmountJson, amountJson } from './json.js';
import type { BlockTag, SettlementReader } from './reader.js';

const CURRENCY_LIST = Object.keys(CURRENCIES) as Currency[];
type DestLedger = Awaited<ReturnType<SettlementReader['destLedger']>>;

/**
 * Reads every ledger of the reader's topology and reconciles them.
 *
 * Each chain is read at one pinned block, so its own numbers (ledgers, escrow, balances) are one consistent state.
 * Two chains are never read at one instant, so the destinations are read twice, before and after the sources:
 * "paid on the destination ⇒ released or in flight on the source" uses the earlier read, "released on the source ⇒
 * paid on the destination" the later one; each then holds at every moment, whatever moves between the reads.
 * @throws SettlementError MR_ERR_SETTLEMENT_READ
 */
export async function readReconciliation(reader: SettlementReader): Promise<ReconcileReport> {
  const { chains, channels } = reader.topology;
  // One block behind the head: a node may answer a call at the head's number from its live state while it builds
  // the next block (anvil does), and then two reads "at one block" can disagree; a block below the head is immutable.
  const pin = async () =>
    new Map(
      await Promise.all(
        chains.map(async (c) => {
          const head = await reader.blockNumber(c);
          return [c.name, head > 0n ? head - 1n : head] as const;
        }),
      ),
    );
  const destinations = async (at: Map<string, BlockTag>): Promise<Map<string, DestLedger>> =>
    new Map<string, DestLedger>(
      (
        await Promise.all(
          channels.flatMap((ch) =>
            CURRENCY_LIST.map(
              async (cur) =>
                [
                  `${ch.id}\u0000${cur}`,
                  await reader.destLedger(reader.chain(ch.destination), ch.id, cur, at.get(ch.destination)!),
                ] as const,
            ),
          ),
        )
      ).map(([k, v]) => [k, v]),
    );

  const before = await destinations(await pin());
  const sourceAt = await pin();
  const gateways: (ReconcileGateway & { tokens: Partial<Record<Currency, boolean>> })[] = await Promise.all(
    chains.map(async (c) => {
      const at = sourceAt.get(c.name)!;
      const escrowed: ReconcileGateway['escrowed'] = {};
      const balance: ReconcileGateway['balance'] = {};
      const tokens: Partial<Record<Currency, boolean>> = {};
      await Promise.all(
        CURRENCY_LIST.map(async (cur) => {
          const [e, b] = await Promise.all([reader.escrowed(c, cur, at), reader.tokenBalance(c, cur, at)]);
          escrowed[cur] = e;
          balance[cur] = b.balance;
          tokens[cur] = b.token !== null;
        }),
      );
      return { chain: c.name, escrowed, balance, tokens };
    }),
  );
  const tokensOf = new Map(gateways.map((g) => [g.chain, g.tokens]));
  const sources = new Map<string, Awaited<ReturnType<SettlementReader['ledger']>>>();
  const routes = new Map<string, boolean>();
  await Promise.all(
    channels.map(async (ch) => {
      const src = reader.chain(ch.source);
      const dst = reader.chain(ch.destination);
      const at = sourceAt.get(ch.source)!;
      routes.set(ch.id, (await reader.route(src, dst.chainId, at)).channel === ch.id.toLowerCase());
      await Promise.all(
        CURRENCY_LIST.map(async (cur) => {
          sources.set(`${ch.id}\u0000${cur}`, await reader.ledger(src, ch.id, cur, at));
        }),
      );
    }),
  );
  // The later read at the head itself: one value per row, only ever compared with its own source row, and a live
  // state is only newer, which is what this bound needs.
  const after = await destinations(new Map(chains.map((c) => [c.name, 'latest' as const])));

  const rows: ReconcileChannel[] = [];
  for (const ch of channels) {
    for (const cur of CURRENCY_LIST) {
      const k = `${ch.id}\u0000${cur}`;
      const source = sources.get(k)!;
      const destination = after.get(k)!;
      const destinationBefore = before.get(k)!;
      const moved = [...Object.values(source), ...Object.values(destination)].some((v) => v !== 0n);
      if (!moved && !(routes.get(ch.id) && tokensOf.get(ch.source)?.[cur])) continue;
      rows.push({
        channel: ch.id,
        name: ch.name,
        sourceChain: ch.source,
        destChain: ch.destination,
        currency: cur,
        source,
        destination,
        destinationBefore,
      });
    }
  }
  // Stable output: config channel order, then currency order.
  const order = new Map<string, number>(channels.map((c, i) => [c.id, i]));
  rows.sort(
    (a, b) =>
      order.get(a.channel)! - order.get(b.channel)! ||
      CURRENCY_LIST.indexOf(a.currency) - CURRENCY_LIST.indexOf(b.currency),
  );
  return reconcile({
    channels: rows,
    gateways: gateways.map(({ chain, escrowed, balance }) => ({ chain, escrowed, balance })),
  });
}

export interface ReconciliationJson {
  ok: boolean;
  rows: Array<{
    channel: string;
    name?: string;
    sourceChain: string;
    destChain: string;
    currency: Currency;
    ok: boolean;
    locked: AmountJson;
    released: AmountJson;
    refunded: AmountJson;
    inFlight: AmountJson;
    destination?: { receivedSource: AmountJson; unacknowledged?: AmountJson };
  }>;
  gateways: Array<{
    chain: string;
    currency: Currency;
    ok: boolean;
    escrowed: AmountJson;
    balance: AmountJson;
    inFlight: AmountJson;
  }>;
  violations: Array<{
    invariant: string;
    currency: Currency;
    channel?: string;
    chain?: string;
    left: AmountJson;
    right: AmountJson;
    message: string;
  }>;
}

/**
 * The report as JSON (API and `medrelay settlement reconcile --json`). `paidOut` is left out: it counts payouts in
 * the destination's target currency, which need not be the row's currency.
 */
export function reconciliationJson(r: ReconcileReport): ReconciliationJson {
  return {
    ok: r.ok,
    rows: r.rows.map((row) => {
      const a = (v: bigint) => amountJson(row.currency, v);
      return {
        channel: row.channel,
        ...(row.name === undefined ? {} : { name: row.name }),
        sourceChain: row.sourceChain,
        destChain: row.destChain,
        currency: row.currency,
        ok: row.ok,
        locked: a(row.source.locked),
        released: a(row.source.released),
        refunded: a(row.source.refunded),
        inFlight: a(row.source.inFlight),
        ...(row.destination
          ? {
              destination: {
                receivedSource: a(row.destination.receivedSource),
                ...(row.unacknowledged === undefined ? {} : { unacknowledged: a(row.unacknowledged) }),
              },
            }
          : {}),
      };
    }),
    gateways: r.gateways.map((g) => ({
      chain: g.chain,
      currency: g.currency,
      ok: g.ok,
      escrowed: amountJson(g.currency, g.escrowed),
      balance: amountJson(g.currency, g.balance),
      inFlight: amountJson(g.currency, g.inFlight),
    })),
    violations: r.violations.map((v) => ({
      invariant: v.invariant,
      currency: v.currency,
      ...(v.channel === undefined ? {} : { channel: v.channel }),
      ...(v.chain === undefined ? {} : { chain: v.chain }),
      left: amountJson(v.currency, v.left),
      right: amountJson(v.currency, v.right),
      message: v.message,
    })),
  };
}
