/** Settlement reconciliation (proofs/settlement/reconcile.ts): balanced books pass, every broken invariant is named. */
import { describe, expect, it } from 'vitest';
import { ProofError } from '../../proofs/errors.js';
import {
  INVARIANTS,
  type ReconcileChannel,
  type ReconcileInput,
  reconcile,
} from '../../proofs/settlement/reconcile.js';

const A = `0x${'0a'.repeat(32)}`;
const B = `0x${'0b'.repeat(32)}`;

function channel(over: Partial<ReconcileChannel> = {}): ReconcileChannel {
  return {
    channel: A,
    name: 'settlement-insurer-crossborder',
    sourceChain: 'insurer',
    destChain: 'crossborder',
    currency: 'CNY',
    // 500 locked: 300 released, 50 refunded, 150 in flight of which 100 already paid on the destination
    source: { locked: 500n, released: 300n, refunded: 50n, inFlight: 150n },
    destination: { receivedSource: 400n, paidOut: 435n },
    ...over,
  };
}

function input(over: Partial<ReconcileInput> = {}): ReconcileInput {
  return {
    channels: [channel()],
    gateways: [{ chain: 'insurer', escrowed: { CNY: 150n }, balance: { CNY: 150n, HKD: 9_000n } }],
    ...over,
  };
}

function expectError(fn: () => unknown, field: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    expect((err as ProofError).code).toBe('MR_ERR_RECONCILE_INPUT');
    expect((err as ProofError).details.field).toBe(field);
    return;
  }
  throw new Error('expected MR_ERR_RECONCILE_INPUT');
}

describe('reconcile', () => {
  it('default: balanced books pass, with rows per channel/currency and per gateway/currency', () => {
    const r = reconcile(input());
    expect(r.ok).toBe(true);
    expect(r.violations).toEqual([]);
    expect(r.rows).toEqual([
      {
        channel: A,
        name: 'settlement-insurer-crossborder',
        sourceChain: 'insurer',
        destChain: 'crossborder',
        currency: 'CNY',
        source: { locked: 500n, released: 300n, refunded: 50n, inFlight: 150n },
        destination: { receivedSource: 400n, paidOut: 435n },
        unacknowledged: 100n,
        ok: true,
      },
    ]);
    // HKD has a balance (destination liquidity) but nothing escrowed and no channel: no row
    expect(r.gateways).toEqual([
      { chain: 'insurer', currency: 'CNY', escrowed: 150n, balance: 150n, inFlight: 150n, ok: true },
    ]);
  });

  it('behavior: more balance than escrow, several channels summed per gateway, no destination read, empty books', () => {
    const r = reconcile({
      channels: [
        channel(),
        channel({ channel: B, name: undefined, destChain: 'medical-a', destination: undefined }),
        channel({
          currency: 'HKD',
          source: { locked: 0n, released: 0n, refunded: 0n, inFlight: 0n },
          destination: { receivedSource: 0n, paidOut: 0n },
        }),
      ],
      gateways: [{ chain: 'insurer', escrowed: { CNY: 300n }, balance: { CNY: 1_000n } }],
    });
    expect(r.ok).toBe(true);
    expect(r.rows[1]).not.toHaveProperty('destination');
    expect(r.rows[1]).not.toHaveProperty('unacknowledged');
    // gateway rows in CURRENCIES order (HKD, CNY, MOP)
    expect(r.gateways.map((g) => [g.currency, g.inFlight, g.escrowed])).toEqual([
      ['HKD', 0n, 0n],
      ['CNY', 300n, 300n],
    ]);
    expect(reconcile({ channels: [], gateways: [] })).toEqual({
      ok: true,
      rows: [],
      gateways: [],
      violations: [],
    });
    // exactly in step: everything paid has been acknowledged
    expect(
      reconcile(input({ channels: [channel({ destination: { receivedSource: 300n, paidOut: 1n } })] })).ok,
    ).toBe(true);
  });

  it('error: LEDGER_BALANCED — locked != released + refunded + in flight', () => {
    const r = reconcile(
      input({
        channels: [channel({ source: { locked: 501n, released: 300n, refunded: 50n, inFlight: 150n } })],
      }),
    );
    expect(r.ok).toBe(false);
    expect(r.violations).toEqual([
      expect.objectContaining({
        invariant: 'LEDGER_BALANCED',
        channel: A,
        currency: 'CNY',
        left: 501n,
        right: 500n,
      }),
    ]);
    expect(r.rows[0]!.ok).toBe(false);
    expect(r.violations[0]!.message).toContain('settlement-insurer-crossborder');
  });

  it('error: ESCROW_MATCHES_IN_FLIGHT — Σ in flight != escrowed (either way)', () => {
    for (const escrowed of [149n, 151n]) {
      const r = reconcile(
        input({ gateways: [{ chain: 'insurer', escrowed: { CNY: escrowed }, balance: { CNY: 500n } }] }),
      );
      expect(r.violations.map((v) => [v.invariant, v.chain, v.left, v.right])).toEqual([
        ['ESCROW_MATCHES_IN_FLIGHT', 'insurer', 150n, escrowed],
      ]);
      expect(r.gateways[0]!.ok).toBe(false);
      expect(r.rows[0]!.ok).toBe(true);
    }
    // escrow in a currency no channel accounts for (a gateway route missing from the input)
    const r = reconcile(
      input({
        gateways: [{ chain: 'insurer', escrowed: { CNY: 150n, MOP: 7n }, balance: { CNY: 150n, MOP: 7n } }],
      }),
    );
    expect(r.violations.map((v) => [v.invariant, v.currency])).toEqual([['ESCROW_MATCHES_IN_FLIGHT', 'MOP']]);
  });

  it('error: ESCROW_BACKED — escrowed above the token balance', () => {
    const r = reconcile(
      input({ gateways: [{ chain: 'insurer', escrowed: { CNY: 150n }, balance: { CNY: 149n } }] }),
    );
    expect(r.violations.map((v) => [v.invariant, v.left, v.right])).toEqual([['ESCROW_BACKED', 150n, 149n]]);
    const none = reconcile(input({ gateways: [{ chain: 'insurer', escrowed: { CNY: 150n }, balance: {} }] }));
    expect(none.violations.map((v) => v.invariant)).toEqual(['ESCROW_BACKED']);
  });

  it('error: DESTINATION_NOT_BEHIND — released more than the destination received', () => {
    const r = reconcile(
      input({ channels: [channel({ destination: { receivedSource: 299n, paidOut: 299n } })] }),
    );
    expect(r.violations.map((v) => [v.invariant, v.left, v.right])).toEqual([
      ['DESTINATION_NOT_BEHIND', 299n, 300n],
    ]);
    expect(r.rows[0]).not.toHaveProperty('unacknowledged');
  });

  it('error: DESTINATION_UNACKED_IN_FLIGHT — paid but unacknowledged exceeds in flight', () => {
    const r = reconcile(
      input({ channels: [channel({ destination: { receivedSource: 451n, paidOut: 0n } })] }),
    );
    expect(r.violations.map((v) => [v.invariant, v.left, v.right])).toEqual([
      ['DESTINATION_UNACKED_IN_FLIGHT', 151n, 150n],
    ]);
  });

  it('behavior: several violations at once are all reported, each invariant name is one of INVARIANTS', () => {
    const r = reconcile({
      channels: [
        channel({
          source: { locked: 10n, released: 300n, refunded: 0n, inFlight: 0n },
          destination: { receivedSource: 0n, paidOut: 0n },
        }),
        channel({
          channel: B,
          currency: 'HKD',
          source: { locked: 5n, released: 0n, refunded: 0n, inFlight: 5n },
          destination: { receivedSource: 9n, paidOut: 9n },
        }),
      ],
      gateways: [{ chain: 'insurer', escrowed: { CNY: 1n, HKD: 5n }, balance: { CNY: 0n, HKD: 5n } }],
    });
    expect(r.violations.map((v) => v.invariant).sort()).toEqual(
      [
        'LEDGER_BALANCED',
        'DESTINATION_NOT_BEHIND',
        'DESTINATION_UNACKED_IN_FLIGHT',
        'ESCROW_MATCHES_IN_FLIGHT',
        'ESCROW_BACKED',
      ].sort(),
    );
    for (const v of r.violations) expect(INVARIANTS).toContain(v.invariant);
  });

  it('error: malformed input names the field', () => {
    expectError(() => reconcile(null as never), '(root)');
    expectError(() => reconcile({ channels: {} as never, gateways: [] }), 'channels');
    expectError(
      () =>
        reconcile(
          input({
            channels: [channel({ source: { locked: -1n, released: 0n, refunded: 0n, inFlight: 0n } })],
          }),
        ),
      'channels[0].source.locked',
    );
    expectError(
      () =>
        reconcile(
          input({
            channels: [channel({ source: { locked: 1, released: 0n, refunded: 0n, inFlight: 0n } as never })],
          }),
        ),
      'channels[0].source.locked',
    );
    expectError(
      () => reconcile(input({ channels: [channel({ destination: { receivedSource: 1n } as never })] })),
      'channels[0].destination.paidOut',
    );
    expectError(
      () => reconcile(input({ channels: [channel({ currency: 'USD' as never })] })),
      'channels[0].currency',
    );
    expectError(
      () => reconcile(input({ channels: [channel({ sourceChain: 'elsewhere' })] })),
      'channels[0].sourceChain',
    );
    expectError(
      () =>
        reconcile(
          input({ channels: [channel(), channel({ channel: A.toUpperCase().replace('0X', '0x') })] }),
        ),
      'channels[1]',
    );
    expectError(
      () =>
        reconcile(input({ gateways: [{ chain: 'insurer', escrowed: { USD: 1n } as never, balance: {} }] })),
      'gateways[0].escrowed.USD',
    );
    expectError(
      () =>
        reconcile(
          input({
            gateways: [
              { chain: 'insurer', escrowed: {}, balance: {} },
              { chain: 'insurer', escrowed: {}, balance: {} },
            ],
          }),
        ),
      'gateways[1].chain',
    );
  });
});
