/**
 * The paper's invoice flow. A supplier signs an `Invoice` (EIP-712, Parsec domain):
 *
 *   Invoice(address supplier,uint128 price,uint8 currency,uint8 invoiceType,bytes32 nonce)
 *
 * `invoiceId` is its struct hash. The buyer pays with a PAY transfer of exactly `price` carrying that
 * `invoiceId`, in a channel where the supplier is the payee. Currencies: ETH (an ETH channel, price in
 * wei) and BTC (a channel in the BTC-pegged ERC-20 the deployment names, price in its base units, e.g.
 * satoshis for an 8-decimal token). As in the paper, the buyer's address must be the one derived from
 * the buyer's public key: its Ethereum address for ETH; for BTC a P2PKH or P2WPKH address of that key.
 */
import { hexlify, keccak256, randomBytes } from "ethers";
import { assertBitcoinAddressOf, ethereumAddressOf } from "./bitcoin";
import {
  addressWord,
  checkSmallUint,
  checkUint,
  concatBytes,
  fromHex,
  toAddress,
  toHash,
  uintWord,
} from "./bytes";
import { channelIdOf, TYPE_HASHES, typedDataDigest, typedDataPayload, type TypedDataPayload } from "./eip712";
import {
  AddressMismatchError,
  BadSignatureError,
  InvoiceMismatchError,
  MalformedError,
  WrongChannelError,
} from "./errors";
import { buildTransfer, type PayerState } from "./payer-state";
import { recoverSigner, signTypedPayload, transferSigner, type ParsecSigner } from "./sign";
import {
  TransferKind,
  ZERO_ADDRESS,
  type Address,
  type ChannelParams,
  type Domain,
  type Hash,
  type Hex,
  type SignedTransfer,
  type Transfer,
  type TransferOrigin,
} from "./types";

export const Currency = { ETH: 0, BTC: 1 } as const;
export type Currency = (typeof Currency)[keyof typeof Currency];

/** What an invoice is for; informational to the contract, checked by apps (e.g. the catalogue). */
export const InvoiceType = { OneOff: 0, Subscription: 1, Donation: 2 } as const;
export type InvoiceType = (typeof InvoiceType)[keyof typeof InvoiceType];

export interface Invoice {
  readonly supplier: Address;
  /** Base units of the channel's asset (wei for ETH, token units for BTC). */
  readonly price: bigint;
  readonly currency: Currency;
  readonly invoiceType: InvoiceType;
  /** Makes equal invoices distinct; random by default. */
  readonly nonce: Hash;
}

export interface SignedInvoice {
  readonly invoice: Invoice;
  readonly invoiceId: Hash;
  /** The supplier's signature of the invoice. */
  readonly signature: Hex;
}

/** A checked invoice; `nonce` defaults to 32 random bytes. */
export function createInvoice(raw: {
  supplier: string;
  price: bigint;
  currency: number;
  invoiceType?: number;
  nonce?: string;
}): Invoice {
  const currency = checkSmallUint(raw.currency, 8, "currency");
  if (currency !== Currency.ETH && currency !== Currency.BTC)
    throw new MalformedError(`unknown currency ${currency}`);
  const invoiceType = checkSmallUint(raw.invoiceType ?? InvoiceType.OneOff, 8, "invoiceType");
  if (invoiceType > InvoiceType.Donation) throw new MalformedError(`unknown invoice type ${invoiceType}`);
  const price = checkUint(raw.price, 128, "price");
  if (price === 0n) throw new MalformedError("an invoice's price must be greater than zero");
  return {
    supplier: toAddress(raw.supplier, "supplier"),
    price,
    currency: currency as Currency,
    invoiceType: invoiceType as InvoiceType,
    nonce: toHash(raw.nonce ?? hexlify(randomBytes(32)), "nonce"),
  };
}

/** The invoice id: the EIP-712 struct hash of the invoice. */
export function invoiceIdOf(invoice: Invoice): Hash {
  return keccak256(
    concatBytes(
      fromHex(TYPE_HASHES.Invoice),
      addressWord(invoice.supplier),
      uintWord(invoice.price),
      uintWord(invoice.currency),
      uintWord(invoice.invoiceType),
      fromHex(invoice.nonce),
    ),
  ) as Hash;
}

/** The typed data a supplier's wallet signs. */
export function invoiceTypedData(domain: Domain, invoice: Invoice): TypedDataPayload {
  return typedDataPayload(domain, "Invoice", {
    supplier: invoice.supplier,
    price: invoice.price.toString(),
    currency: invoice.currency,
    invoiceType: invoice.invoiceType,
    nonce: invoice.nonce,
  });
}

/** The supplier signs an invoice (it must be the invoice's supplier). */
export async function signInvoice(
  signer: ParsecSigner,
  domain: Domain,
  invoice: Invoice,
): Promise<SignedInvoice> {
  if (signer.address !== invoice.supplier)
    throw new InvoiceMismatchError("only the supplier signs its invoice");
  const invoiceId = invoiceIdOf(invoice);
  const signature = await signTypedPayload(
    signer,
    invoiceTypedData(domain, invoice),
    typedDataDigest(domain, invoiceId),
  );
  return { invoice, invoiceId, signature };
}

/** Checks the id and the supplier's signature; throws `InvoiceMismatch`/`BadSignature`. */
export function verifyInvoice(domain: Domain, signed: SignedInvoice): void {
  if (invoiceIdOf(signed.invoice) !== signed.invoiceId)
    throw new InvoiceMismatchError("invoiceId is not the invoice's hash");
  const signer = recoverSigner(typedDataDigest(domain, signed.invoiceId), signed.signature);
  if (signer !== signed.invoice.supplier) {
    throw new BadSignatureError(
      `the invoice is signed by ${signer}, not its supplier ${signed.invoice.supplier}`,
    );
  }
}

/** The buyer's next transfer paying an invoice: a PAY of `price` with the invoice id. */
export function payInvoice(state: PayerState, origin: TransferOrigin, signed: SignedInvoice): Transfer {
  return buildTransfer(state, origin, {
    kind: "PAY",
    amount: signed.invoice.price,
    invoiceId: signed.invoiceId,
  });
}

/** The paper's `SignedInvoice` payment message: invoice, buyer key material and the paying transfer. */
export interface InvoicePayment {
  readonly invoice: SignedInvoice;
  /** The buyer's secp256k1 public key (33 or 65 bytes). */
  readonly buyerPublicKey: Hex;
  /** Ethereum address for ETH; a P2PKH or P2WPKH address for BTC. */
  readonly buyerAddress: string;
  readonly transfer: SignedTransfer;
}

export interface InvoiceSettlement {
  readonly domain: Domain;
  readonly params: ChannelParams;
  /** The BTC-pegged ERC-20 BTC invoices settle in (required to accept BTC). */
  readonly btcToken?: Address;
}

/**
 * Checks a payment against its invoice: supplier's signature; the transfer is in this channel, a PAY of
 * exactly the price with the invoice id, to the supplier, signed by the payer; the channel's asset fits
 * the currency; the buyer's public key is the payer's, and the buyer address derives from that key.
 */
export function verifyInvoicePayment(payment: InvoicePayment, settlement: InvoiceSettlement): void {
  const { domain, params } = settlement;
  const { invoice: signed, transfer: t } = payment;
  verifyInvoice(domain, signed);
  const inv = signed.invoice;
  if (t.channelId !== channelIdOf(domain, params))
    throw new WrongChannelError("the payment is for another channel");
  if (t.kind !== TransferKind.Pay) throw new InvoiceMismatchError("an invoice is paid with a PAY transfer");
  if (t.invoiceId !== signed.invoiceId)
    throw new InvoiceMismatchError("the transfer does not carry the invoice id");
  if (t.amount !== inv.price)
    throw new InvoiceMismatchError(`the transfer pays ${t.amount}, the invoice asks ${inv.price}`);
  const payee = t.payer === 0 ? params.participant1 : params.participant0;
  if (payee !== inv.supplier)
    throw new InvoiceMismatchError(`the payee ${payee} is not the supplier ${inv.supplier}`);
  if (inv.currency === 0) {
    if (params.asset !== ZERO_ADDRESS)
      throw new InvoiceMismatchError("an ETH invoice is paid in an ETH channel");
  } else if (!settlement.btcToken || params.asset !== settlement.btcToken) {
    throw new InvoiceMismatchError("a BTC invoice is paid in the channel of the BTC-pegged token");
  }
  const payer = t.payer === 0 ? params.participant0 : params.participant1;
  const buyerEth = ethereumAddressOf(payment.buyerPublicKey);
  if (buyerEth !== payer) throw new AddressMismatchError(payer, buyerEth);
  if (transferSigner(domain, t) !== payer)
    throw new BadSignatureError("the payment is not signed by the buyer");
  if (inv.currency === 0) {
    let given: Address;
    try {
      given = toAddress(payment.buyerAddress, "buyerAddress");
    } catch {
      throw new AddressMismatchError(buyerEth, payment.buyerAddress);
    }
    if (given !== buyerEth) throw new AddressMismatchError(buyerEth, payment.buyerAddress);
  } else {
    assertBitcoinAddressOf(payment.buyerAddress, payment.buyerPublicKey);
  }
}
