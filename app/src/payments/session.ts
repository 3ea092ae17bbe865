/**
 * The payment session key: a secp256k1 key derived from ONE wallet signature, which is the channel
 * participant of the dapp's payment channels and signs every LOCK, UNLOCK and PAY locally (no wallet
 * pop-up per payment). It is funded from the wallet (one transaction) and holds only what the user moves
 * into its channels. Trade-offs in docs/dapp.md ("Signing payments").
 */
import { keccak256, type Address, type Hex } from "viem";
import {
  localSigner,
  type Domain,
  type Eip1193Provider,
  type JournalStorage,
  type LocalSigner,
} from "../../../sdk/isomorphic";

/** The typed data the wallet signs to derive the key: fixed per (wallet, deployment), so re-derivable. */
export function sessionKeyRequest(domain: Domain, owner: Address) {
  return {
    domain: {
      name: "Parsec payment session",
      version: "1",
      chainId: Number(domain.chainId),
      verifyingContract: domain.verifyingContract,
    },
    types: {
      EIP712Domain: [
        { name: "name", type: "string" },
        { name: "version", type: "string" },
        { name: "chainId", type: "uint256" },
        { name: "verifyingContract", type: "address" },
      ],
      SessionKey: [
        { name: "owner", type: "address" },
        { name: "purpose", type: "string" },
      ],
    },
    primaryType: "SessionKey",
    message: {
      owner,
      purpose:
        "Derive my Parsec payment key. Sign only in the Parsec dapp: this key spends my payment channels.",
    },
  } as const;
}

/** The session key: its signer (the channel participant) and the private key (its onion routing key too). */
export interface SessionKey {
  readonly owner: Address;
  readonly address: Address;
  readonly privateKey: Hex;
  readonly signer: LocalSigner;
}

/** Where the session key is kept for its owner on this deployment. */
export function sessionStorageKey(domain: Domain, owner: Address): string {
  return `parsec:${domain.chainId}:${domain.verifyingContract.toLowerCase()}:session:${owner.toLowerCase()}`;
}

function fromPrivateKey(owner: Address, privateKey: Hex): SessionKey {
  const signer = localSigner(privateKey);
  return { owner, address: signer.address, privateKey, signer };
}

/** The key kept in `storage` for `owner`, without asking the wallet; null when there is none. */
export function storedSessionKey(storage: JournalStorage, domain: Domain, owner: Address): SessionKey | null {
  const kept = storage.getItem(sessionStorageKey(domain, owner));
  return kept && /^0x[0-9a-f]{64}$/i.test(kept) ? fromPrivateKey(owner, kept as Hex) : null;
}

/**
 * Asks the wallet for the one signature and derives the key from it (keccak256 of the signature: RFC 6979
 * wallets sign deterministically, so the same wallet gets the same key back on another device), and keeps
 * it in `storage` so a reload resumes payments without asking again.
 */
export async function deriveSessionKey(
  provider: Eip1193Provider,
  storage: JournalStorage,
  domain: Domain,
  owner: Address,
): Promise<SessionKey> {
  const signature = (await provider.request({
    method: "eth_signTypedData_v4",
    params: [owner, JSON.stringify(sessionKeyRequest(domain, owner))],
  })) as Hex;
  const key = fromPrivateKey(owner, keccak256(signature));
  storage.setItem(sessionStorageKey(domain, owner), key.privateKey);
  return key;
}
