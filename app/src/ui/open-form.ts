/** The "Open a channel" form: counterparty, asset (ETH, the demo token or any ERC-20), deposit, period. */
import { isAddress, getAddress, type Address } from "viem";
import { parseAmount } from "../../../client";
import type { AssetInfo } from "../chain-data";
import { h } from "./dom";

export interface OpenRequest {
  readonly counterparty: Address;
  /** The token address, or null for ETH. */
  readonly token: Address | null;
  /** The deposit as typed; parsed once the asset's decimals are known. */
  readonly amountText: string;
  readonly challengePeriod: number;
}

export interface OpenForm {
  readonly element: HTMLElement;
  setEnabled(enabled: boolean): void;
}

/** Parses the deposit for the asset; throws `AmountError` with what to fix. */
export function depositOf(request: OpenRequest, asset: AssetInfo): bigint {
  return parseAmount(request.amountText, asset.decimals);
}

export function createOpenForm(
  testToken: Address | undefined,
  onSubmit: (request: OpenRequest) => Promise<void>,
): OpenForm {
  const counterparty = h("input", {
    name: "counterparty",
    placeholder: "0x… counterparty address",
    size: 44,
    "data-testid": "open-counterparty",
  });
  const asset = h(
    "select",
    { name: "asset", "data-testid": "open-asset" },
    h("option", { value: "eth" }, "ETH"),
    testToken ? h("option", { value: testToken }, "TST (demo token)") : null,
    h("option", { value: "custom" }, "Other ERC-20…"),
  );
  const token = h("input", {
    name: "token",
    placeholder: "0x… token address",
    size: 44,
    hidden: true,
    "data-testid": "open-token",
  });
  asset.addEventListener("change", () => (token.hidden = asset.value !== "custom"));
  const amount = h("input", {
    name: "amount",
    placeholder: "0.5",
    inputmode: "decimal",
    "data-testid": "open-amount",
  });
  const hours = h("input", {
    name: "period",
    value: "24",
    inputmode: "numeric",
    size: 5,
    "data-testid": "open-period",
  });
  const error = h("p", { class: "error", "data-testid": "open-error" });
  const button = h("button", { type: "submit", "data-testid": "open-submit" }, "Open channel");
  const form = h(
    "form",
    { class: "grid" },
    h("label", {}, "Counterparty", counterparty),
    h("label", {}, "Asset", asset, token),
    h("label", {}, "Your deposit", amount),
    h("label", {}, "Challenge period (hours)", hours),
    h("div", {}, button),
    error,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.textContent = "";
    const who = counterparty.value.trim();
    if (!isAddress(who, { strict: false })) {
      error.textContent = "The counterparty must be an address (0x and 40 hex digits).";
      return;
    }
    let tokenAddress: Address | null = null;
    if (asset.value === "custom") {
      if (!isAddress(token.value.trim(), { strict: false })) {
        error.textContent = "The token must be an ERC-20 address.";
        return;
      }
      tokenAddress = getAddress(token.value.trim());
    } else if (asset.value !== "eth") tokenAddress = getAddress(asset.value);
    const h = Number(hours.value);
    if (!Number.isInteger(h) || h < 1 || h > 720) {
      error.textContent = "The challenge period must be a whole number of hours from 1 to 720.";
      return;
    }
    button.disabled = true;
    onSubmit({
      counterparty: getAddress(who),
      token: tokenAddress,
      amountText: amount.value,
      challengePeriod: h * 3600,
    })
      .then(() => (amount.value = ""))
      .catch((e: unknown) => (error.textContent = e instanceof Error ? e.message : String(e)))
      .finally(() => (button.disabled = false));
  });
  const element = h(
    "section",
    { class: "panel", "data-testid": "open-panel" },
    h("h2", {}, "Open a channel"),
    form,
  );
  return {
    element,
    setEnabled(enabled) {
      for (const el of form.querySelectorAll("input, select, button"))
        (el as HTMLInputElement).disabled = !enabled;
    },
  };
}
