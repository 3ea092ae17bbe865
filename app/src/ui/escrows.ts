/** HTLC escrows locked for the user, each with a "claim with preimage" form. */
import { formatAmount, describeError } from "../../../client";
import type { EscrowView } from "../chain-data";
import { h, short } from "./dom";

export interface EscrowList {
  readonly element: HTMLElement;
  update(escrows: readonly EscrowView[], chainNow: number): void;
}

export function createEscrowList(
  onClaim: (escrow: EscrowView, preimage: string) => Promise<void>,
): EscrowList {
  const list = h("div", { "data-testid": "escrows" });
  const empty = h("p", { class: "muted" }, "No escrows locked for you.");
  const element = h("section", { class: "panel" }, h("h2", {}, "HTLC escrows for you"), empty, list);
  const rows = new Map<string, { row: HTMLElement; state: HTMLElement; form: HTMLElement }>();

  return {
    element,
    update(escrows, now) {
      empty.hidden = escrows.length > 0;
      for (const escrow of escrows) {
        let entry = rows.get(escrow.id);
        if (!entry) {
          const preimage = h("input", {
            placeholder: "preimage 0x…",
            size: 40,
            "data-testid": "claim-preimage",
          });
          const error = h("p", { class: "error", "data-testid": "claim-error" });
          const button = h("button", { "data-testid": "claim-submit" }, "Claim");
          button.addEventListener("click", () => {
            error.textContent = "";
            button.disabled = true;
            onClaim(escrow, preimage.value)
              .catch((e: unknown) => (error.textContent = describeError(e)))
              .finally(() => (button.disabled = false));
          });
          const state = h("span", { class: "badge", "data-testid": "escrow-state" });
          const form = h("div", { class: "row" }, preimage, button);
          const row = h(
            "article",
            { class: "card", "data-testid": "escrow", "data-escrow-id": escrow.id },
            h(
              "header",
              {},
              h(
                "h3",
                {},
                `${formatAmount(escrow.amount, escrow.asset.decimals, escrow.asset.symbol)} from ${short(escrow.sender)}`,
              ),
              state,
            ),
            h("p", { class: "muted" }, `hashlock ${short(escrow.hashlock)} · id ${short(escrow.id)}`),
            form,
            error,
          );
          list.append(row);
          entry = { row, state, form };
          rows.set(escrow.id, entry);
        }
        const expired = now >= escrow.timelock;
        entry.state.textContent = escrow.settled ? "settled" : expired ? "expired" : "claimable";
        entry.row.dataset.state = entry.state.textContent;
        entry.form.hidden = escrow.settled || expired;
      }
    },
  };
}
