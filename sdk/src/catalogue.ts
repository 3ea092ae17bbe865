/**
 * The transaction catalogue: the predefined kinds PAY, LOCK, UNLOCK, CANCEL and a registry through which
 * an application adds its own (a tip, a subscription payment, …). A custom kind maps onto one of the four
 * on-chain kinds — the contract only knows those, so the balance effect on-chain is always the mapped
 * kind's — and adds its own validation and app-level effect (counters the app keeps).
 *
 * The kind name and its `appData` travel in the transfer message (`appKind`, `appData`). A kind with
 * `bindsTag` requires `invoiceId = kindTag(name, appData)`, so the payer's signature covers them too and
 * a relay cannot relabel a transfer.
 */
import { keccak256, toUtf8Bytes } from "ethers";
import { concatBytes, fromHex } from "./bytes";
import { KindRuleViolationError, MalformedError, UnknownKindError } from "./errors";
import { buildTransfer, type PayerState, type TransferOp } from "./payer-state";
import {
  TRANSFER_KIND_NAMES,
  TransferKind,
  type Hash,
  type Hex,
  type Lock,
  type Transfer,
  type TransferOrigin,
} from "./types";

/** How a transfer changes its payer's totals (what the contract computes for the on-chain kind). */
export interface BalanceEffect {
  readonly paid: bigint;
  readonly locked: bigint;
}

/** What a kind's rules see. */
export interface KindContext {
  readonly transfer: Transfer;
  readonly appData: Hex;
  /** The payer's state before the transfer, when the caller has it. */
  readonly state?: PayerState;
}

/** A catalogue entry. */
export interface KindDefinition {
  /** Upper-case identifier, e.g. `TIP`. */
  readonly name: string;
  readonly onchainKind: TransferKind;
  readonly description: string;
  /** Extra rules on top of the on-chain kind's: return why the transfer breaks them, or null. */
  readonly validate?: (ctx: KindContext) => string | null;
  /** App-level counters the kind moves (e.g. `{ tips: amount }`); the on-chain effect is fixed. */
  readonly appEffect?: (ctx: KindContext) => Readonly<Record<string, bigint>>;
  /** Require `invoiceId = kindTag(name, appData)` so the signature covers the kind and its data. */
  readonly bindsTag?: boolean;
}

/** A transfer recognised by the catalogue. */
export interface ClassifiedTransfer {
  readonly kind: KindDefinition;
  readonly effect: BalanceEffect;
  readonly appEffect: Readonly<Record<string, bigint>>;
}

/** The tag a `bindsTag` kind puts in `invoiceId`: `keccak256(keccak256(name) || keccak256(appData))`. */
export function kindTag(name: string, appData: Hex): Hash {
  return keccak256(concatBytes(fromHex(keccak256(toUtf8Bytes(name))), fromHex(keccak256(appData)))) as Hash;
}

/** The on-chain effect of a transfer's kind (protocol §3). */
export function onchainEffect(t: Pick<Transfer, "kind" | "amount">): BalanceEffect {
  switch (t.kind) {
    case TransferKind.Pay:
      return { paid: t.amount, locked: 0n };
    case TransferKind.Lock:
      return { paid: 0n, locked: t.amount };
    case TransferKind.Unlock:
      return { paid: t.amount, locked: -t.amount };
    case TransferKind.Cancel:
      return { paid: 0n, locked: -t.amount };
  }
}

const NAME = /^[A-Z][A-Z0-9_]{1,31}$/;

/** Parameters for building a transfer of a catalogue kind. */
export type KindOp =
  | { readonly amount: bigint; readonly appData?: Hex; readonly invoiceId?: Hash }
  | { readonly amount: bigint; readonly hashlock: Hash; readonly expiry: bigint; readonly appData?: Hex }
  | { readonly lock: Lock; readonly appData?: Hex };

/** The registry of transaction kinds. */
export class TransactionCatalogue {
  private readonly kinds = new Map<string, KindDefinition>();

  /** A catalogue with the four predefined kinds. */
  static withBuiltins(): TransactionCatalogue {
    const c = new TransactionCatalogue();
    const descriptions = [
      "unconditional payment: paidTotal += amount",
      "hashed timelock: appends (amount, expiry, hashlock) to the pending locks",
      "pays a pending lock to the payee after the preimage is shown",
      "returns an expired pending lock to the payer",
    ];
    TRANSFER_KIND_NAMES.forEach((name, code) =>
      c.kinds.set(name, { name, onchainKind: code as TransferKind, description: descriptions[code] }),
    );
    return c;
  }

  /** Adds a custom kind; `MalformedError` for a bad or taken name or an unknown on-chain kind. */
  register(def: KindDefinition): void {
    if (!NAME.test(def.name))
      throw new MalformedError(`kind name ${JSON.stringify(def.name)} must match ${NAME}`);
    if (this.kinds.has(def.name)) throw new MalformedError(`kind ${def.name} is registered already`);
    if (!Number.isInteger(def.onchainKind) || def.onchainKind < 0 || def.onchainKind > 3) {
      throw new MalformedError(`kind ${def.name} must map onto an on-chain kind 0..3`);
    }
    this.kinds.set(def.name, Object.freeze({ ...def }));
  }

  /** A kind by name. */
  get(name: string): KindDefinition {
    const k = this.kinds.get(name);
    if (!k) throw new UnknownKindError(name);
    return k;
  }

  has(name: string): boolean {
    return this.kinds.has(name);
  }

  /** Every kind, predefined first. */
  list(): KindDefinition[] {
    return [...this.kinds.values()];
  }

  /**
   * Recognises a transfer with the kind name and data its message carries (empty name: the on-chain
   * kind) and applies the kind's rules. Throws `UnknownKind` or `KindRuleViolation`.
   */
  classify(t: Transfer, appKind = "", appData: Hex = "0x", state?: PayerState): ClassifiedTransfer {
    const kind = this.get(appKind === "" ? TRANSFER_KIND_NAMES[t.kind] : appKind);
    if (kind.onchainKind !== t.kind) {
      throw new KindRuleViolationError(
        kind.name,
        `it maps onto ${TRANSFER_KIND_NAMES[kind.onchainKind]}, the transfer is ${TRANSFER_KIND_NAMES[t.kind]}`,
      );
    }
    if (kind.bindsTag && t.invoiceId !== kindTag(kind.name, appData)) {
      throw new KindRuleViolationError(kind.name, "invoiceId is not the kind's tag of its appData");
    }
    const ctx: KindContext = { transfer: t, appData, state };
    const why = kind.validate?.(ctx) ?? null;
    if (why !== null) throw new KindRuleViolationError(kind.name, why);
    return { kind, effect: onchainEffect(t), appEffect: kind.appEffect?.(ctx) ?? {} };
  }

  /** The next transfer of a payer for a catalogue kind, checked against the kind's rules. */
  build(
    state: PayerState,
    origin: TransferOrigin,
    name: string,
    op: KindOp,
  ): { transfer: Transfer; appKind: string; appData: Hex } {
    const kind = this.get(name);
    const appData = op.appData ?? "0x";
    const tag = kind.bindsTag ? kindTag(kind.name, appData) : "invoiceId" in op ? op.invoiceId : undefined;
    let transferOp: TransferOp;
    switch (kind.onchainKind) {
      case TransferKind.Pay:
        if (!("amount" in op) || "hashlock" in op) throw new MalformedError(`${name} takes an amount`);
        transferOp = { kind: "PAY", amount: op.amount, invoiceId: tag };
        break;
      case TransferKind.Lock:
        if (!("hashlock" in op)) throw new MalformedError(`${name} takes amount, hashlock and expiry`);
        transferOp = {
          kind: "LOCK",
          amount: op.amount,
          hashlock: op.hashlock,
          expiry: op.expiry,
          invoiceId: tag,
        };
        break;
      default:
        if (!("lock" in op)) throw new MalformedError(`${name} takes the pending lock it resolves`);
        transferOp = {
          kind: kind.onchainKind === TransferKind.Unlock ? "UNLOCK" : "CANCEL",
          lock: op.lock,
          invoiceId: tag,
        };
    }
    const transfer = buildTransfer(state, origin, transferOp);
    const appKind = TRANSFER_KIND_NAMES.includes(kind.name as (typeof TRANSFER_KIND_NAMES)[number])
      ? ""
      : kind.name;
    this.classify(transfer, appKind, appData, state);
    return { transfer, appKind, appData };
  }
}
