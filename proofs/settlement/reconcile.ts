/**
 * Settlement reconciliation (DESIGN §6: "per channel, locked = released + refunded + in flight, at all times"):
 * a pure check of the numbers the SettlementGateway contracts keep, read by relayer/settlement/reconciliation.ts.
 *
 * Invariants, each reported by name when violated:
 *  - `LEDGER_BALANCED` per (channel, currency) on the source: locked == released + refunded + inFlight;
 *  - `ESCROW_MATCHES_IN_FLIGHT` per source gateway and currency: Σ inFlight over its channels == escrowed[currency]
 *    (the gateway's own count of tokens held for unsettled payments). Only the channels given are summed, so a
 *    gateway route missing from the input shows up here: unreconciled money is reported, not hidden;
 *  - `ESCROW_BACKED` per source gateway and currency: escrowed[currency] ≤ the gateway's token balance (the
 *    balance may be larger: the same gateway pays creditors as a destination from its own liquidity);
 *  - `DESTINATION_NOT_BEHIND` per (channel, source currency): the destination's receivedSource ≥ released — a
 *    payment is released on the source only after the destination's acknowledgement proved it paid;
 *  - `DESTINATION_UNACKED_IN_FLIGHT` per (channel, source currency): receivedSource − released ≤ inFlight — what
 *    was paid on the destination but not yet acknowledged back must still be escrowed on the source.
 *
 * Amounts are bigint minor units of the ISO 4217 currency (money.ts); errors are `ProofError`
 * `MR_ERR_RECONCILE_INPUT` naming the field.
 */
import { ProofError } from '../errors.js';
import { CURRENCIES, type Currency, isCurrency } from './money.js';

/** Source-side ledger of one (channel, currency): `SettlementGateway.ledger(channel, currency)`. */
export interface SourceLedger {
  locked: bigint;
  released: bigint;
  refunded: bigint;
  inFlight: bigint;
}

/** Destination-side ledger of one (channel, source currency): `SettlementGateway.destLedger(channel, currency)`. */
export interface DestinationLedger {
  /** Source-currency amount of the payments the destination paid out. */
  receivedSource: bigint;
  /** What it paid the creditors, in their (target) currencies; reported, not checked (FX may apply). */
  paidOut: bigint;
}

export interface ReconcileChannel {
  /** bytes32 channel id. */
  channel: string;
  /** Channel name from the config, for display. */
  name?: string;
  /** Name (or id) of the chain whose gateway escrows: groups the escrow checks. */
  sourceChain: string;
  destChain: string;
  currency: Currency;
  source: SourceLedger;
  /**
   * The destination read AFTER the source (absent when it could not be read: then only the source-side checks run).
   * Checked against DESTINATION_NOT_BEHIND: what the source released by its read was paid by then.
   */
  destination?: DestinationLedger;
  /**
   * The destination read BEFORE the source (@defaultValue `destination`). Checked against
   * DESTINATION_UNACKED_IN_FLIGHT: every payment paid by then is, at the source's read, released or still in flight.
   * Two chains are never read at one instant, so each bound uses the read that makes it hold at every moment.
   */
  destinationBefore?: DestinationLedger;
}

export interface ReconcileGateway {
  /** Same key as `ReconcileChannel.sourceChain`. */
  chain: string;
  /** `SettlementGateway.escrowed(currency)` per currency; a currency absent here is taken as 0. */
  escrowed: Partial<Record<Currency, bigint>>;
  /** The gateway's `balanceOf` of each deposit token; a currency absent here is taken as 0. */
  balance: Partial<Record<Currency, bigint>>;
}

export interface ReconcileInput {
  channels: readonly ReconcileChannel[];
  /** One per chain named as a `sourceChain` (checked). */
  gateways: readonly ReconcileGateway[];
}

export const INVARIANTS = [
  'LEDGER_BALANCED',
  'ESCROW_MATCHES_IN_FLIGHT',
  'ESCROW_BACKED',
  'DESTINATION_NOT_BEHIND',
  'DESTINATION_UNACKED_IN_FLIGHT',
] as const;
export type Invariant = (typeof INVARIANTS)[number];

export interface Violation {
  invariant: Invariant;
  currency: Currency;
  /** Set for the per-channel invariants. */
  channel?: string;
  /** Source chain, set for the per-gateway invariants. */
  chain?: string;
  /** Left and right side of the broken relation, in minor units. */
  left: bigint;
  right: bigint;
  message: string;
}

/** A channel's report: its ledgers as given (the later destination read) and the outcome. */
export interface ReconcileRow extends Omit<ReconcileChannel, 'destinationBefore'> {
  /** receivedSource − released when the destination is known and ahead: paid, ack not yet back. */
  unacknowledged?: bigint;
  ok: boolean;
}

export interface GatewayRow {
  chain: string;
  currency: Currency;
  escrowed: bigint;
  balance: bigint;
  /** Σ inFlight of the given channels of this gateway in this currency. */
  inFlight: bigint;
  ok: boolean;
}

export interface ReconcileReport {
  ok: boolean;
  rows: ReconcileRow[];
  gateways: GatewayRow[];
  violations: Violation[];
}

function invalid(field: string, message: string): never {
  throw new ProofError('MR_ERR_RECONCILE_INPUT', `reconcile: ${field}: ${message}`, { details: { field } });
}

function amount(v: unknown, field: string): bigint {
  if (typeof v !== 'bigint' || v < 0n) return invalid(field, 'expected a non-negative bigint (minor units)');
  return v;
}

function amounts(v: unknown, field: string): Partial<Record<Currency, bigint>> {
  if (typeof v !== 'object' || v === null) return invalid(field, 'expected { CNY?, HKD?, MOP? }');
  const out: Partial<Record<Currency, bigint>> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!isCurrency(k)) invalid(`${field}.${k}`, 'unknown currency');
    out[k] = amount(x, `${field}.${k}`);
  }
  return out;
}

function sourceLedger(v: unknown, field: string): SourceLedger {
  if (typeof v !== 'object' || v === null)
    return invalid(field, 'expected { locked, released, refunded, inFlight }');
  const l = v as Record<string, unknown>;
  return {
    locked: amount(l.locked, `${field}.locked`),
    released: amount(l.released, `${field}.released`),
    refunded: amount(l.refunded, `${field}.refunded`),
    inFlight: amount(l.inFlight, `${field}.inFlight`),
  };
}

function destinationLedger(v: unknown, field: string): DestinationLedger | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null) return invalid(field, 'expected { receivedSource, paidOut }');
  const l = v as Record<string, unknown>;
  return {
    receivedSource: amount(l.receivedSource, `${field}.receivedSource`),
    paidOut: amount(l.paidOut, `${field}.paidOut`),
  };
}

function label(c: { channel: string; name?: string }): string {
  return c.name ? `${c.name} (${c.channel})` : c.channel;
}

/**
 * Checks every invariant of the module header and returns one row per (channel, currency), one per (gateway,
 * currency) with escrow or channels, and every violation (empty when `ok`).
 *
 * @example
 * reconcile({ channels: [{ channel, sourceChain: 'insurer', destChain: 'gba', currency: 'HKD',
 *   source: { locked: 500n, released: 300n, refunded: 0n, inFlight: 200n },
 *   destination: { receivedSource: 400n, paidOut: 400n } }],
 *   gateways: [{ chain: 'insurer', escrowed: { HKD: 200n }, balance: { HKD: 200n } }] }).ok // true
 * @throws ProofError MR_ERR_RECONCILE_INPUT (negative or non-bigint amount, unknown currency, a channel and
 *   currency twice, a channel whose source chain has no gateway entry, a gateway twice)
 */
export function reconcile(input: ReconcileInput): ReconcileReport {
  if (typeof input !== 'object' || input === null) invalid('(root)', 'expected { channels, gateways }');
  if (!Array.isArray(input.channels)) invalid('channels', 'expected an array');
  if (!Array.isArray(input.gateways)) invalid('gateways', 'expected an array');

  const gateways = new Map<
    string,
    { escrowed: Partial<Record<Currency, bigint>>; balance: Partial<Record<Currency, bigint>> }
  >();
  input.gateways.forEach((g, i) => {
    const f = `gateways[${i}]`;
    if (typeof g?.chain !== 'string' || g.chain.length === 0) invalid(`${f}.chain`, 'expected a chain name');
    if (gateways.has(g.chain)) invalid(`${f}.chain`, `gateway ${g.chain} listed twice`);
    gateways.set(g.chain, {
      escrowed: amounts(g.escrowed, `${f}.escrowed`),
      balance: amounts(g.balance, `${f}.balance`),
    });
  });

  const violations: Violation[] = [];
  const rows: ReconcileRow[] = [];
  const seen = new Set<string>();
  const inFlightBy = new Map<string, bigint>(); // `${chain}\0${currency}` → Σ inFlight

  input.channels.forEach((c, i) => {
    const f = `channels[${i}]`;
    if (typeof c !== 'object' || c === null) invalid(f, 'expected an object');
    if (typeof c.channel !== 'string' || c.channel.length === 0)
      invalid(`${f}.channel`, 'expected a channel id');
    if (!isCurrency(c.currency)) invalid(`${f}.currency`, 'expected CNY, HKD or MOP');
    if (typeof c.sourceChain !== 'string' || !gateways.has(c.sourceChain))
      invalid(`${f}.sourceChain`, 'expected the chain of one of the gateways');
    if (typeof c.destChain !== 'string') invalid(`${f}.destChain`, 'expected a chain name');
    const key = `${c.channel.toLowerCase()}\u0000${c.currency}`;
    if (seen.has(key)) invalid(f, `channel ${c.channel} and ${c.currency} listed twice`);
    seen.add(key);
    const src = sourceLedger(c.source, `${f}.source`);
    const dst = destinationLedger(c.destination, `${f}.destination`);
    const dstBefore = destinationLedger(c.destinationBefore, `${f}.destinationBefore`) ?? dst;
    const before = violations.length;
    const cur = c.currency;
    const where = `${label(c)} ${cur}`;

    const accounted = src.released + src.refunded + src.inFlight;
    if (src.locked !== accounted)
      violations.push({
        invariant: 'LEDGER_BALANCED',
        channel: c.channel,
        currency: cur,
        left: src.locked,
        right: accounted,
        message: `${where}: locked ${src.locked} != released ${src.released} + refunded ${src.refunded} + in flight ${src.inFlight} (= ${accounted})`,
      });
    let unacknowledged: bigint | undefined;
    if (dst) {
      if (dst.receivedSource < src.released)
        violations.push({
          invariant: 'DESTINATION_NOT_BEHIND',
          channel: c.channel,
          currency: cur,
          left: dst.receivedSource,
          right: src.released,
          message: `${where}: the destination received ${dst.receivedSource} but the source released ${src.released}: released without a payout`,
        });
      else unacknowledged = dst.receivedSource - src.released;
    }
    if (dstBefore && dstBefore.receivedSource > src.released) {
      const unacked = dstBefore.receivedSource - src.released;
      if (unacked > src.inFlight)
        violations.push({
          invariant: 'DESTINATION_UNACKED_IN_FLIGHT',
          channel: c.channel,
          currency: cur,
          left: unacked,
          right: src.inFlight,
          message: `${where}: paid on the destination and not yet acknowledged ${unacked} > in flight on the source ${src.inFlight}`,
        });
    }
    const gk = `${c.sourceChain}\u0000${cur}`;
    inFlightBy.set(gk, (inFlightBy.get(gk) ?? 0n) + src.inFlight);
    rows.push({
      channel: c.channel,
      ...(c.name === undefined ? {} : { name: c.name }),
      sourceChain: c.sourceChain,
      destChain: c.destChain,
      currency: cur,
      source: src,
      ...(dst ? { destination: dst } : {}),
      ...(unacknowledged === undefined ? {} : { unacknowledged }),
      ok: violations.length === before,
    });
  });

  const gatewayRows: GatewayRow[] = [];
  for (const [chain, g] of gateways) {
    for (const cur of Object.keys(CURRENCIES) as Currency[]) {
      const gk = `${chain}\u0000${cur}`;
      const escrowed = g.escrowed[cur] ?? 0n;
      const balance = g.balance[cur] ?? 0n;
      const inFlight = inFlightBy.get(gk) ?? 0n;
      // A currency with nothing escrowed and no channel is not a row: nothing to reconcile.
      if (!inFlightBy.has(gk) && escrowed === 0n) continue;
      const before = violations.length;
      if (inFlight !== escrowed)
        violations.push({
          invariant: 'ESCROW_MATCHES_IN_FLIGHT',
          chain,
          currency: cur,
          left: inFlight,
          right: escrowed,
          message: `${chain} ${cur}: Σ in flight over its channels ${inFlight} != escrowed ${escrowed}`,
        });
      if (escrowed > balance)
        violations.push({
          invariant: 'ESCROW_BACKED',
          chain,
          currency: cur,
          left: escrowed,
          right: balance,
          message: `${chain} ${cur}: escrowed ${escrowed} > the gateway's token balance ${balance}`,
        });
      gatewayRows.push({
        chain,
        currency: cur,
        escrowed,
        balance,
        inFlight,
        ok: violations.length === before,
      });
    }
  }
  return { ok: violations.length === 0, rows, gateways: gatewayRows, violations };
}
