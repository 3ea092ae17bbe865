/** The participant keys the node holds, as the HTTP API asks for them (a key service of its own). */
import type { LocalSigner } from "../../../sdk";
import type { OnchainChannel } from "../chain/registry";

/** Which participant of a channel the node can sign for: `prefer` if held, else the only one held. */
export function signerFor(
  signers: ReadonlyMap<string, LocalSigner>,
  onchain: OnchainChannel,
  prefer?: string,
): LocalSigner | null {
  if (prefer) return signers.get(prefer.toLowerCase()) ?? null;
  const held = onchain.participantsLower.filter((p) => signers.has(p));
  return held.length === 1 ? (signers.get(held[0]) as LocalSigner) : null;
}
