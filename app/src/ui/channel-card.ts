/**
 * One channel: parameters, deposits, the relayer's off-chain balances, the challenge countdown, and the
 * actions its status allows. Built once and updated in place, so what the user typed survives refreshes.
 */
import {
  formatAmount,
  parseAmount,
  countdown,
  counterpartyOf,
  STATUS_NAMES,
  describeError,
} from "../../../client";
import type { ChannelView } from "../chain-data";
import { h, short } from "./dom";

export interface ChannelHandlers {
  deposit(channel: ChannelView, amount: bigint): Promise<void>;
  closeCooperatively(
    channel: ChannelView,
    balance0: bigint,
    balance1: bigint,
    signature: string,
  ): Promise<void>;
  closeUnilaterally(channel: ChannelView): Promise<void>;
  /** `evidenceJson` is an uploaded file's text; `null`: the relayer's (or, to settle, the last used). */
  dispute(channel: ChannelView, evidenceJson: string | null): Promise<void>;
  settle(channel: ChannelView, evidenceJson: string | null): Promise<void>;
}

export interface ChannelCard {
  readonly element: HTMLElement;
  update(channel: ChannelView, chainNow: number): void;
}

export function createChannelCard(
  initial: ChannelView,
  hasRelayer: boolean,
  handlers: ChannelHandlers,
): ChannelCard {
  let channel = initial;
  const fmt = (v: bigint) => formatAmount(v, channel.asset.decimals, channel.asset.symbol);
  const parse = (text: string, allowZero = false) => parseAmount(text, channel.asset.decimals, { allowZero });

  const status = h("span", { class: "badge", "data-testid": "status" });
  const deposits = h("dd", { "data-testid": "deposits" });
  const offchain = h("dd", { "data-testid": "offchain" });
  const seqs = h("dd", { "data-testid": "seqs" });
  const timer = h("dd", { "data-testid": "countdown" });
  const error = h("p", { class: "error", "data-testid": "channel-error" });

  // Runs a handler with the card's buttons disabled, showing its error in the card.
  const busy = (work: () => Promise<void>) => {
    error.textContent = "";
    const buttons = [...element.querySelectorAll("button")];
    buttons.forEach((b) => (b.disabled = true));
    work()
      .catch((e: unknown) => (error.textContent = describeError(e)))
      .finally(() => {
        buttons.forEach((b) => (b.disabled = false));
        refreshButtons();
      });
  };

  const depositAmount = h("input", {
    placeholder: "amount",
    inputmode: "decimal",
    size: 10,
    "data-testid": "deposit-amount",
  });
  const depositButton = h(
    "button",
    {
      "data-testid": "deposit-submit",
      onclick: () =>
        busy(() =>
          handlers.deposit(channel, parse(depositAmount.value)).then(() => void (depositAmount.value = "")),
        ),
    },
    "Deposit",
  );

  const mineInput = h("input", { inputmode: "decimal", size: 10, "data-testid": "coop-mine" });
  const theirsInput = h("input", { inputmode: "decimal", size: 10, "data-testid": "coop-theirs" });
  let edited = false;
  mineInput.addEventListener("input", () => (edited = true));
  theirsInput.addEventListener("input", () => (edited = true));
  const signature = h("input", {
    placeholder: 'counterparty\'s signed close {"signature","seq0","seq1","expiry"}',
    size: 30,
    hidden: hasRelayer,
    "data-testid": "coop-signature",
  });
  const coopButton = h(
    "button",
    {
      "data-testid": "coop-submit",
      onclick: () =>
        busy(() => {
          const mine = parse(mineInput.value, true);
          const theirs = parse(theirsInput.value, true);
          const [b0, b1] = channel.side === 0 ? [mine, theirs] : [theirs, mine];
          return handlers.closeCooperatively(channel, b0, b1, signature.value);
        }),
    },
    "Close cooperatively",
  );
  const closeButton = h(
    "button",
    {
      class: "secondary",
      "data-testid": "close-submit",
      onclick: () => busy(() => handlers.closeUnilaterally(channel)),
    },
    "Close unilaterally",
  );

  const evidenceFile = h("input", {
    type: "file",
    accept: "application/json,.json",
    "data-testid": "evidence-file",
  });
  const readFile = async (): Promise<string | null> => {
    const file = evidenceFile.files?.[0];
    return file ? file.text() : null;
  };
  const disputeRelayer = h(
    "button",
    {
      hidden: !hasRelayer,
      "data-testid": "dispute-relayer",
      onclick: () => busy(() => handlers.dispute(channel, null)),
    },
    "Dispute with the relayer's evidence",
  );
  const disputeFile = h(
    "button",
    {
      "data-testid": "dispute-file",
      onclick: () =>
        busy(async () => {
          const e = await readFile();
          if (!e) throw new Error("Choose an evidence file first.");
          await handlers.dispute(channel, e);
        }),
    },
    "Dispute with file",
  );
  const settleButton = h(
    "button",
    {
      "data-testid": "settle-submit",
      onclick: () => busy(async () => handlers.settle(channel, await readFile())),
    },
    "Settle",
  );

  const openActions = h(
    "div",
    { class: "actions" },
    h("div", { class: "row" }, depositAmount, depositButton),
    h(
      "div",
      { class: "row" },
      h("label", {}, "you get ", mineInput),
      h("label", {}, "they get ", theirsInput),
      signature,
      coopButton,
    ),
    h(
      "p",
      { class: "muted", "data-testid": "coop-rule" },
      "A cooperative close settles the current state (both seqs) and is valid for an hour. After you sign one, ",
      "sign and accept no transfer in this channel until it expired.",
    ),
    h("div", { class: "row" }, closeButton),
  );
  const closingActions = h(
    "div",
    { class: "actions" },
    h("div", { class: "row" }, disputeRelayer, evidenceFile, disputeFile),
    h("div", { class: "row" }, settleButton),
  );

  const title = h("h3", {});
  const element = h(
    "article",
    { class: "card", "data-testid": "channel", "data-channel-id": channel.channelId },
    h("header", {}, title, status),
    h(
      "dl",
      {},
      h("dt", {}, "Deposits"),
      deposits,
      h("dt", {}, "Off-chain (relayer)"),
      offchain,
      h("dt", {}, "On-chain seqs"),
      seqs,
      h("dt", {}, "Challenge"),
      timer,
    ),
    openActions,
    closingActions,
    error,
  );

  let now = 0;
  function refreshButtons(): void {
    const ready = channel.status === "CLOSING" && countdown(channel.closesAt, now) === null;
    settleButton.disabled = !ready;
  }

  function update(next: ChannelView, chainNow: number): void {
    channel = next;
    now = chainNow;
    const them = counterpartyOf(channel.params, channel.side);
    title.textContent = `${channel.asset.symbol} channel with ${short(them)}`;
    title.title = `${channel.channelId} (you are P${channel.side})`;
    element.dataset.status = STATUS_NAMES[channel.status];
    status.textContent = STATUS_NAMES[channel.status];
    const [mine, theirs] =
      channel.side === 0 ? [channel.deposit0, channel.deposit1] : [channel.deposit1, channel.deposit0];
    deposits.textContent = `you ${fmt(mine)} · them ${fmt(theirs)}`;
    const off = channel.offchain;
    if (off && off.balance0 !== null && off.balance1 !== null) {
      const [a, b] = channel.side === 0 ? [off.balance0, off.balance1] : [off.balance1, off.balance0];
      offchain.textContent = `you ${fmt(a)} · them ${fmt(b)} (seqs ${off.seq0 ?? "?"}/${off.seq1 ?? "?"})`;
      if (!edited) {
        mineInput.value = formatAmount(a, channel.asset.decimals, "").trim();
        theirsInput.value = formatAmount(b, channel.asset.decimals, "").trim();
      }
    } else {
      offchain.textContent =
        channel.offchainError ?? (hasRelayer ? "unknown to the relayer" : "no relayer configured");
      if (!edited) {
        mineInput.value = formatAmount(mine, channel.asset.decimals, "").trim();
        theirsInput.value = formatAmount(theirs, channel.asset.decimals, "").trim();
      }
    }
    seqs.textContent = `P0 ${channel.seq0} · P1 ${channel.seq1}`;
    if (channel.status === "CLOSING") {
      const left = countdown(channel.closesAt, now);
      timer.textContent = left ? `settle in ${left}` : "over: ready to settle";
    } else
      timer.textContent =
        channel.status === "OPEN" ? `${channel.params.challengePeriod / 3600} h once closed` : "—";
    openActions.hidden = channel.status !== "OPEN";
    closingActions.hidden = channel.status !== "CLOSING";
    refreshButtons();
  }

  update(initial, 0);
  return { element, update };
}
